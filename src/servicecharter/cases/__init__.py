"""Complaints and feedback. So far only the deadline rules: ``profiles`` (what each regulator
requires, as data) and ``deadlines`` (the arithmetic on the foundation's calendars)."""
