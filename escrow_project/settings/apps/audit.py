"""Settings of the audit app (environment-driven). .env.example documents each variable."""

from __future__ import annotations

import hashlib
import os

from escrow_project.settings.env import env_bool, env_int, env_str

_secret = os.environ.get("SECRET_KEY") or "insecure-local-development-key-change-me-0123456789abcdef"


def _configured(name: str) -> str:
    # An empty line in an exported .env means "not set" here, not "an empty key".
    return os.environ.get(name, "").strip()


# Ed25519 seed (64 hex chars) that signs tree heads. Without it a key is derived from SECRET_KEY so
# development and tests work with no setup. Production refuses to start without its own key
# (audit.apps checks it): parties pin the public key for years, so it must not change when
# SECRET_KEY is rotated.
AUDIT_SIGNING_KEY = _configured("AUDIT_SIGNING_KEY") or (
    hashlib.sha256(b"escrow-platform/audit/sth-key/v1|" + _secret.encode()).hexdigest()
)
AUDIT_SIGNING_KEY_DERIVED = not _configured("AUDIT_SIGNING_KEY")
AUDIT_LOG_ID = env_str("AUDIT_LOG_ID", "escrow-platform-audit")
# Seal a tree head when this many events wait, or when the oldest has waited this long.
AUDIT_SEAL_EVERY_EVENTS = env_int("AUDIT_SEAL_EVERY_EVENTS", 1000)
AUDIT_SEAL_EVERY_SECONDS = env_int("AUDIT_SEAL_EVERY_SECONDS", 30)
AUDIT_SEAL_MAX_BATCH = env_int("AUDIT_SEAL_MAX_BATCH", 200_000)
AUDIT_ANCHOR_EVERY_SECONDS = env_int("AUDIT_ANCHOR_EVERY_SECONDS", 300)
# No anchoring at all (the anchor task does nothing). Production needs this or CHAIN_RPC_URL: it
# refuses the in-process chain, whose anchors nobody outside the process can check.
AUDIT_ANCHORING_DISABLED = env_bool("AUDIT_ANCHORING_DISABLED", False)

# Anchoring. Empty CHAIN_RPC_URL (base settings) = an in-process eth-tester chain (development).
# The derived key is for that chain only: production with CHAIN_RPC_URL refuses to start without
# its own key (the wallet holds funds and its nonce; it must not follow SECRET_KEY).
AUDIT_CHAIN_PRIVATE_KEY = _configured("AUDIT_CHAIN_PRIVATE_KEY") or (
    "0x" + hashlib.sha256(b"escrow-platform/audit/chain-key/v1|" + _secret.encode()).hexdigest()
)
AUDIT_CHAIN_PRIVATE_KEY_DERIVED = not _configured("AUDIT_CHAIN_PRIVATE_KEY")
AUDIT_ANCHOR_CONTRACT_ADDRESS = env_str("AUDIT_ANCHOR_CONTRACT_ADDRESS", "")
AUDIT_CHAIN_CONFIRMATIONS = env_int("AUDIT_CHAIN_CONFIRMATIONS", 6)
AUDIT_CHAIN_TIMEOUT_SECONDS = env_int("AUDIT_CHAIN_TIMEOUT_SECONDS", 10)
AUDIT_ANCHOR_BREAKER_THRESHOLD = env_int("AUDIT_ANCHOR_BREAKER_THRESHOLD", 10)
AUDIT_ANCHOR_BREAKER_RESET_SECONDS = env_int("AUDIT_ANCHOR_BREAKER_RESET_SECONDS", 30)
