"""Settings of the ledger app (environment-driven)."""

from escrow_project.settings.env import env_bool, env_int, env_list, env_str

# Which rail money moves through: "simulated" (the embedded default, instant and offline) or "stripe".
PAYMENT_RAIL = env_str("PAYMENT_RAIL", "simulated")
# Production refuses the simulated rail unless this is set on purpose (a staging that moves no money).
ALLOW_SIMULATED_RAIL = env_bool("ALLOW_SIMULATED_RAIL", False)

# Stripe (docs/decisions/0102-stripe-rail.md). The base address points the SDK at a local
# Stripe-compatible server in tests (localstripe); production leaves it at Stripe's.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_LIVE_MODE = env_bool("STRIPE_LIVE_MODE", False)
# Every secret that may sign a webhook: during a rotation, the new and the old one.
STRIPE_WEBHOOK_SECRETS = env_list("STRIPE_WEBHOOK_SECRETS", "")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env_int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 20)
# Payment calls: 3 retries with the SDK's exponential backoff, same idempotency key each time.
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 3)
# Circuit breaker: this many failures within the window open it; it half-opens after the window.
STRIPE_BREAKER_FAILURES = env_int("STRIPE_BREAKER_FAILURES", 5)
STRIPE_BREAKER_WINDOW_SECONDS = env_int("STRIPE_BREAKER_WINDOW_SECONDS", 60)
# Money an operator records by hand through the ledger API above this amount (any currency, in its
# major units) waits for a second operator's approval (docs/decisions/0102).
LEDGER_FOUR_EYES_ABOVE = env_str("LEDGER_FOUR_EYES_ABOVE", "10000.00")
# Reconciliation (docs/decisions/0103): a difference up to this amount (major units) is
# MATCHED_WITHIN_TOLERANCE; a run may ask for another. A match by member and action may move the
# effective date by up to this many days (a DATE_DELTA); further apart they are two missing lines.
RECONCILIATION_TOLERANCE = env_str("RECONCILIATION_TOLERANCE", "0.01")
RECONCILIATION_DATE_WINDOW_DAYS = env_int("RECONCILIATION_DATE_WINDOW_DAYS", 31)
# A payout `sent` (or open) and untouched this long is sent again under the same rail key by the sweeper
# (its worker may have died mid-call). Keep it above the dispatch task's time limit (60 s); the fault suite
# sets 15 s to see the sweep within its run (the simulated rail answers at once).
LEDGER_PAYOUT_STALE_SECONDS = env_int("LEDGER_PAYOUT_STALE_SECONDS", 300)
