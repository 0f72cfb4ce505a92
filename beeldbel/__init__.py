"""Beeldbel: video calls, scheduling, client files and loaned tablets for Dutch district teams."""

__version__ = "0.1.0"

__all__ = ["__version__"]
