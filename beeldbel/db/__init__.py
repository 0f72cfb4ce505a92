"""Persistence: SQLAlchemy tables, the engine, units of work and repositories."""
