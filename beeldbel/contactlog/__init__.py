"""The contact log: every contact with a client filed from the event that made it."""
