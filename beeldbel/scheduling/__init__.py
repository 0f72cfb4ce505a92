"""Scheduling: check-in calls, home visits and case meetings; recurrence, availability,
reminders, no-shows and invitations. Pure rules in ``model``/``rules``; use cases in ``service``."""
