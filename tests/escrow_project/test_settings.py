"""Production settings refuse an insecure configuration and pass Django's deploy checks."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_KEY_SETTINGS = {
    "DEBUG",
    "SECRET_KEY",
    "JWT_SIGNING_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "BLIND_INDEX_KEY",
    "KEY_PROVIDER",
    "KEY_ENCRYPTION_KEY",
    "WRAPPED_DATA_KEYS",
    "WRAPPED_BLIND_INDEX_KEY",
    "AUDIT_SIGNING_KEY",
    "AUDIT_CHAIN_PRIVATE_KEY",
    "CHAIN_RPC_URL",
    "AUDIT_ANCHORING_DISABLED",
}


def _random_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _check_deploy(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    return _manage(tmp_path, ("check", "--deploy", "--fail-level", "WARNING"), **overrides)


def _manage(tmp_path: Path, command: tuple[str, ...], /, **overrides: str) -> subprocess.CompletedProcess[str]:
    """manage.py <command> under the production settings, with a secure environment plus overrides."""
    env = {key: value for key, value in os.environ.items() if key not in _KEY_SETTINGS}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "escrow_project.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "escrow.example.com",
            "VAR_DIR": str(tmp_path),
            # Never contacted by `check --deploy`; production only insists they are real servers.
            "DATABASE_URL": "postgres://escrow@db.invalid:5432/escrow",
            "REDIS_URL": "redis://cache.invalid:6379/0",
            "FIELD_ENCRYPTION_KEYS": f"k2026:{_random_key()}",
            "BLIND_INDEX_KEY": _random_key(),
            "AUDIT_SIGNING_KEY": secrets.token_hex(32),
            "PAYMENT_RAIL": "stripe",
            "STRIPE_SECRET_KEY": "sk_test_" + secrets.token_hex(12),
            "STRIPE_WEBHOOK_SECRETS": "whsec_" + secrets.token_hex(16),
            "AUDIT_ANCHORING_DISABLED": "true",  # no chain node here; the anchoring cases turn it back on
            **overrides,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_secure_production_configuration_passes_check_deploy(tmp_path):
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"SECRET_KEY": "insecure-local-development-key-change-me-0123456789abcdef"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"JWT_SIGNING_KEY": "x" * 60}, "JWT_SIGNING_KEY"),
        ({"JWT_SIGNING_KEY": ""}, "JWT_SIGNING_KEY in the environment"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS"),
        ({"BLIND_INDEX_KEY": ""}, "BLIND_INDEX_KEY"),
        ({"FIELD_ENCRYPTION_KEYS": "k1:dG9vLXNob3J0"}, "32 bytes"),
        ({"KEY_PROVIDER": "escrow_project.common.crypto.envelope.EnvelopeKeyProvider"}, "KEY_ENCRYPTION_KEY"),
        ({"DATABASE_URL": "sqlite:///prod.sqlite3"}, "PostgreSQL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"AUDIT_SIGNING_KEY": ""}, "AUDIT_SIGNING_KEY is missing"),
        ({"PAYMENT_RAIL": "simulated"}, "refuses the simulated payment rail"),
        ({"STRIPE_SECRET_KEY": ""}, "needs STRIPE_SECRET_KEY"),
        ({"STRIPE_LIVE_MODE": "true"}, "STRIPE_LIVE_MODE and STRIPE_SECRET_KEY disagree"),
        ({"AUDIT_SIGNING_KEY": "not-hex-" * 8}, "AUDIT_SIGNING_KEY must be 64 random hex"),
        ({"CHAIN_RPC_URL": "http://127.0.0.1:8545"}, "AUDIT_CHAIN_PRIVATE_KEY is missing"),
        (
            {"CHAIN_RPC_URL": "http://127.0.0.1:8545", "AUDIT_CHAIN_PRIVATE_KEY": "0x" + "f" * 64},
            "AUDIT_CHAIN_PRIVATE_KEY must be a secp256k1 private key",
        ),
        ({"AUDIT_ANCHORING_DISABLED": "false"}, "refuses to anchor the audit log on the in-process chain"),
    ],
    ids=[
        "default-key",
        "short-key",
        "low-entropy-jwt-key",
        "no-jwt-key-in-the-environment",
        "debug-on",
        "no-encryption-keys",
        "no-blind-index-key",
        "short-encryption-key",
        "envelope-without-kek",
        "sqlite-database",
        "no-redis",
        "no-audit-signing-key",
        "simulated-rail",
        "stripe-without-key",
        "live-mode-with-test-key",
        "malformed-audit-signing-key",
        "chain-without-audit-chain-key",
        "invalid-audit-chain-key",
        "anchoring-on-the-in-process-chain",
    ],
)
def test_insecure_production_configuration_refuses_to_start(tmp_path, overrides, complaint):
    result = _check_deploy(tmp_path, **overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


_WHICH_DOCS = (
    "shell",
    "-c",
    "from django.urls import resolve; print('docs:', resolve('/api/schema/').url_name, resolve('/api/docs/').url_name)",
)


@pytest.mark.parametrize(("overrides", "served"), [({}, "api-not-found"), ({"API_DOCS_ENABLED": "true"}, "schema")])
def test_production_serves_the_api_docs_only_when_asked_to(tmp_path, overrides, served):
    result = _manage(tmp_path, _WHICH_DOCS, **overrides)
    assert result.returncode == 0, result.stderr
    assert f"docs: {served} " in result.stdout


def test_production_anchoring_on_a_chain_with_its_own_key_passes_check_deploy(tmp_path):
    """No chain call happens at start-up: the node named by CHAIN_RPC_URL need not be up for the check."""
    result = _check_deploy(
        tmp_path,
        CHAIN_RPC_URL="http://127.0.0.1:9",
        AUDIT_CHAIN_PRIVATE_KEY="0x" + secrets.token_hex(32),
        AUDIT_ANCHORING_DISABLED="false",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_with_envelope_keys_passes_check_deploy(tmp_path):
    """The KMS-style provider: only wrapped data keys in the environment, unwrapped by the KEK."""
    env = {k: v for k, v in os.environ.items() if k not in _KEY_SETTINGS}
    generated = subprocess.run(
        [sys.executable, "manage.py", "generate_encryption_keys", "--envelope", "--key-id", "k2026"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test", "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = dict(line.split("=", 1) for line in generated.stdout.splitlines() if "=" in line)
    assert set(lines) == {"KEY_ENCRYPTION_KEY", "KEY_PROVIDER", "WRAPPED_DATA_KEYS", "WRAPPED_BLIND_INDEX_KEY"}
    result = _check_deploy(tmp_path, FIELD_ENCRYPTION_KEYS="", BLIND_INDEX_KEY="", **lines)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
