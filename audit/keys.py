"""Production refuses to run the audit log with keys derived from SECRET_KEY (checked at start-up)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

# secp256k1 group order: a chain private key must lie in [1, n).
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_GENERATE = "generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`"


def _hex32(value: str) -> int | None:
    digits = value.removeprefix("0x")
    if len(digits) != 64:
        return None
    try:
        return int(digits, 16)
    except ValueError:
        return None


def production_key_problems(settings: Any) -> list[str]:
    """What is wrong with the audit keys for production; empty when they are fit for it."""
    problems: list[str] = []
    signing = str(settings.AUDIT_SIGNING_KEY)
    if settings.AUDIT_SIGNING_KEY_DERIVED:
        problems.append(
            "AUDIT_SIGNING_KEY is missing: production needs its own tree-head signing key (a key derived "
            f"from SECRET_KEY would change when SECRET_KEY is rotated and break every pinned key); {_GENERATE}."
        )
    elif _hex32(signing) is None or len(set(signing)) < 8:
        problems.append(f"AUDIT_SIGNING_KEY must be 64 random hex characters (an Ed25519 seed); {_GENERATE}.")
    if settings.CHAIN_RPC_URL:
        chain_key = str(settings.AUDIT_CHAIN_PRIVATE_KEY)
        number = _hex32(chain_key)
        if settings.AUDIT_CHAIN_PRIVATE_KEY_DERIVED:
            problems.append(
                "AUDIT_CHAIN_PRIVATE_KEY is missing: with CHAIN_RPC_URL set, production needs the anchoring "
                "account's own key (a key derived from SECRET_KEY would move the wallet, its funds and its "
                "nonce whenever SECRET_KEY is rotated)."
            )
        elif number is None or not 0 < number < _SECP256K1_N or len(set(chain_key.removeprefix("0x"))) < 8:
            problems.append("AUDIT_CHAIN_PRIVATE_KEY must be a secp256k1 private key: 0x and 64 random hex characters.")
        elif chain_key.removeprefix("0x").lower() == signing.removeprefix("0x").lower():
            problems.append("AUDIT_CHAIN_PRIVATE_KEY must differ from AUDIT_SIGNING_KEY.")
    return problems


def refuse_unsafe_production_keys(settings: Any) -> None:
    """Raise ImproperlyConfigured in production when an audit key is derived or malformed."""
    if not getattr(settings, "IS_PRODUCTION", False):
        return
    problems = production_key_problems(settings)
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
