"""Settings of the verifications app (environment-driven)."""
