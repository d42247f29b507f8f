"""Settings of the endorsements app (environment-driven)."""

from escrow_project.settings.env import env_bool, env_int, env_str

# Largest batch file accepted (bytes); 100,000 rows of CSV are about 15 MB.
ENDORSEMENTS_BATCH_MAX_BYTES = env_int("ENDORSEMENTS_BATCH_MAX_BYTES", 64 * 1024 * 1024)
# Callback timestamps older or further ahead than this are refused (replay window).
ENDORSEMENTS_CALLBACK_TOLERANCE_SECONDS = env_int("ENDORSEMENTS_CALLBACK_TOLERANCE_SECONDS", 300)
# Base URL the insurers call back (defaults to the platform's public URL).
ENDORSEMENTS_CALLBACK_BASE_URL = env_str("ENDORSEMENTS_CALLBACK_BASE_URL", "")
# Port of the demo sandbox insurer that `make run` starts next to the platform.
ENDORSEMENTS_SANDBOX_PORT = env_int("ENDORSEMENTS_SANDBOX_PORT", 8107)
# First retry delay of a transient insurer failure; doubles per attempt (capped at an hour).
ENDORSEMENTS_RETRY_BASE_SECONDS = env_int("ENDORSEMENTS_RETRY_BASE_SECONDS", 5)
# Every insurer gateway (REST, SOAP, SFTP) refuses an insurer host that resolves to a private, loopback or
# link-local address (SSRF: escrow_project.common.egress). The embedded default and the tests run the sandbox
# insurer here.
ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE = env_bool("ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE", False)
