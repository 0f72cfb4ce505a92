"""SQLAlchemy implementations of the capabilities' storage ports."""
