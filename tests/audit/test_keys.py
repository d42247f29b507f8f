"""Audit keys: derived from SECRET_KEY for development and tests, refused in production."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from audit import signing
from audit.keys import refuse_unsafe_production_keys


def production(**overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "IS_PRODUCTION": True,
        "AUDIT_SIGNING_KEY": secrets.token_hex(32),
        "AUDIT_SIGNING_KEY_DERIVED": False,
        "CHAIN_RPC_URL": "",
        "AUDIT_CHAIN_PRIVATE_KEY": "0x" + "11" * 32,
        "AUDIT_CHAIN_PRIVATE_KEY_DERIVED": True,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_tests_run_with_derived_keys_and_can_sign() -> None:
    assert settings.AUDIT_SIGNING_KEY_DERIVED
    assert settings.AUDIT_CHAIN_PRIVATE_KEY_DERIVED
    assert len(signing.public_key_hex()) == 64
    refuse_unsafe_production_keys(settings)  # not production: the derived keys are fine


def test_derived_keys_are_allowed_outside_production() -> None:
    refuse_unsafe_production_keys(
        production(IS_PRODUCTION=False, AUDIT_SIGNING_KEY_DERIVED=True, CHAIN_RPC_URL="http://127.0.0.1:8545")
    )


def test_production_with_its_own_keys_starts() -> None:
    refuse_unsafe_production_keys(production())
    refuse_unsafe_production_keys(
        production(
            CHAIN_RPC_URL="http://127.0.0.1:8545",
            AUDIT_CHAIN_PRIVATE_KEY="0x" + secrets.token_hex(32),
            AUDIT_CHAIN_PRIVATE_KEY_DERIVED=False,
        )
    )


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"AUDIT_SIGNING_KEY_DERIVED": True}, "AUDIT_SIGNING_KEY is missing"),
        ({"AUDIT_SIGNING_KEY": "ab" * 31}, "AUDIT_SIGNING_KEY must be 64 random hex"),
        ({"AUDIT_SIGNING_KEY": "0" * 64}, "AUDIT_SIGNING_KEY must be 64 random hex"),
        ({"CHAIN_RPC_URL": "http://127.0.0.1:8545"}, "AUDIT_CHAIN_PRIVATE_KEY is missing"),
        (
            {
                "CHAIN_RPC_URL": "http://n",
                "AUDIT_CHAIN_PRIVATE_KEY": "0x" + "ff" * 32,
                "AUDIT_CHAIN_PRIVATE_KEY_DERIVED": False,
            },
            "secp256k1",
        ),
        (
            {
                "CHAIN_RPC_URL": "http://n",
                "AUDIT_CHAIN_PRIVATE_KEY": "0xnothex",
                "AUDIT_CHAIN_PRIVATE_KEY_DERIVED": False,
            },
            "secp256k1",
        ),
    ],
    ids=[
        "derived-signing-key",
        "short-signing-key",
        "constant-signing-key",
        "derived-chain-key",
        "chain-key-too-big",
        "chain-key-not-hex",
    ],
)
def test_production_refuses_derived_or_malformed_audit_keys(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=complaint):
        refuse_unsafe_production_keys(production(**overrides))


def test_production_refuses_the_same_key_for_signing_and_the_chain() -> None:
    key = secrets.token_hex(32)
    config = production(
        AUDIT_SIGNING_KEY=key,
        CHAIN_RPC_URL="http://127.0.0.1:8545",
        AUDIT_CHAIN_PRIVATE_KEY="0x" + key,
        AUDIT_CHAIN_PRIVATE_KEY_DERIVED=False,
    )
    with pytest.raises(ImproperlyConfigured, match="must differ"):
        refuse_unsafe_production_keys(config)
