"""Core pages, one module per concern (home, calendars, audit, events, notifications)."""
