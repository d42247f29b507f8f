"""Settings of the endorsements app (environment-driven)."""
