"""Settings of the notifications app (environment-driven)."""
