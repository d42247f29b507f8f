"""Settings of the ledger app (environment-driven)."""
