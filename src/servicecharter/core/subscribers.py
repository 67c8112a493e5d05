"""Event subscribers and periodic jobs of the core module (none yet)."""
