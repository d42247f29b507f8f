"""Settings of the verifications app (environment-driven)."""

from escrow_project.settings.env import env_int

# Deadline of a task when its agent profile does not say otherwise.
VERIFICATION_DEFAULT_DEADLINE_HOURS = env_int("VERIFICATION_DEFAULT_DEADLINE_HOURS", 72)
# After a task went overdue and the escrow officer was told, how long until the operator is told.
VERIFICATION_ESCALATION_GRACE_HOURS = env_int("VERIFICATION_ESCALATION_GRACE_HOURS", 24)
# Transient agent failures: retries with exponential backoff up to this many attempts.
VERIFICATION_MAX_EXECUTION_ATTEMPTS = env_int("VERIFICATION_MAX_EXECUTION_ATTEMPTS", 5)
# Multiplier applied to sandbox delays (0 in tests makes sandbox agents answer at once).
VERIFICATION_SANDBOX_DELAY_SCALE = env_int("VERIFICATION_SANDBOX_DELAY_SCALE", 1)
# After the operator was told, how long until an overdue task goes to another agent of its type
# (the one with the fewest open tasks); 0 turns automatic reassignment off.
VERIFICATION_AUTO_REASSIGN_AFTER_HOURS = env_int("VERIFICATION_AUTO_REASSIGN_AFTER_HOURS", 24)
