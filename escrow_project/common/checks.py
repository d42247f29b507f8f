"""System checks of the data-protection baseline: the platform does not run without usable keys."""

from __future__ import annotations

from typing import Any

from django.core import checks

from escrow_project.common.crypto.cipher import decrypt, encrypt
from escrow_project.common.crypto.keys import key_provider


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The configured key provider loads and a value survives a round trip under the active key."""
    try:
        provider = key_provider()
        provider.blind_index_key()
        if decrypt(encrypt("check", context="common.check"), context="common.check") != "check":
            raise ValueError("round trip changed the value")
    except Exception as exc:  # noqa: BLE001 - any failure here means the platform must not start
        return [
            checks.Error(
                f"Field encryption keys are unusable: {exc}",
                hint="Set FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY (manage.py generate_encryption_keys) "
                "or configure KEY_PROVIDER; see .env.example.",
                id="common.E402",
            )
        ]
    return []
