"""Settings of the audit app (environment-driven)."""
