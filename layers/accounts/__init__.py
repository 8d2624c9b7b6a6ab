"""User accounts, their role grants on areas, and the append-only audit log."""
