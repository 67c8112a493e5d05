"""Facts from other modules that become violations or reward proposals (idempotent handlers)."""
