"""Settings of the identity app (environment-driven)."""
