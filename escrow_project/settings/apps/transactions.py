"""Settings of the transactions app (environment-driven)."""
