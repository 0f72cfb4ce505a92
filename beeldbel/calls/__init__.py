"""Calls: the life of a call (lobby, waiting room, admission, reconnection) and its outcome."""
