"""Settings of the transactions app (environment-driven)."""

from escrow_project.settings.env import env_int, env_str

# Default milestone fees (per transaction they can be changed at creation).
ESCROW_MILESTONE_DEFAULTS = {
    "title": env_str("ESCROW_MILESTONE_TITLE", "1200.00"),
    "inspection": env_str("ESCROW_MILESTONE_INSPECTION", "500.00"),
    "appraisal": env_str("ESCROW_MILESTONE_APPRAISAL", "400.00"),
    "lending": env_str("ESCROW_MILESTONE_LENDING", "0"),
}
# Settlements disbursing more than this need ESCROW_APPROVALS_REQUIRED distinct operators.
ESCROW_APPROVAL_THRESHOLD = env_str("ESCROW_APPROVAL_THRESHOLD", "1000000.00")
ESCROW_APPROVALS_REQUIRED = env_int("ESCROW_APPROVALS_REQUIRED", 2)
# After the last approval, funds wait this long before they may move (seconds).
ESCROW_TIME_LOCK_SECONDS = env_int("ESCROW_TIME_LOCK_SECONDS", 3600)
# After a payee's bank details change, its payouts wait this long (seconds).
ESCROW_BANK_DETAILS_COOLING_OFF_SECONDS = env_int("ESCROW_BANK_DETAILS_COOLING_OFF_SECONDS", 72 * 3600)
# Upper bound on a purchase price: anything above is refused as absurd input.
ESCROW_MAX_PURCHASE_PRICE = env_str("ESCROW_MAX_PURCHASE_PRICE", "100000000.00")
# A wire received outside the payment rail and recorded by hand above this amount (in the escrow's
# currency) waits for a second person's confirmation before it counts (docs/decisions/0102).
ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE = env_str("ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE", "10000.00")
