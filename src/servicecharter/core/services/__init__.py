"""Core writes, one module per concern."""
