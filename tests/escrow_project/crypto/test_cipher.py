"""The cipher seals and opens values, refuses tampering loudly, and follows the configured keys."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from escrow_project.common.crypto.cipher import DecryptionError, decrypt, encrypt, key_id_of, reencrypt
from escrow_project.common.crypto.keys import encode_key, key_provider, parse_index_key, parse_keyring

CONTEXT = "escrow.party.national_id"


def keyring(*ids: str) -> tuple[str, dict[str, str]]:
    keys = {key_id: encode_key(os.urandom(32)) for key_id in ids}
    return ",".join(f"{key_id}:{key}" for key_id, key in keys.items()), keys


def test_round_trip_carries_the_active_key_id_and_no_plaintext():
    raw, _ = keyring("k2026a", "k2025b")
    with override_settings(FIELD_ENCRYPTION_KEYS=raw):
        token = encrypt("AB-123-456", context=CONTEXT)
        assert token.startswith("v1:k2026a:")
        assert "AB-123-456" not in token
        assert key_id_of(token) == "k2026a"
        assert decrypt(token, context=CONTEXT) == "AB-123-456"


def test_same_plaintext_encrypts_differently_each_time():
    assert encrypt("same", context=CONTEXT) != encrypt("same", context=CONTEXT)


def _flip_one_byte(token: str) -> str:
    prefix, key_id, body = token.split(":", 2)
    blob = bytearray(base64.urlsafe_b64decode(body))
    blob[len(blob) // 2] ^= 0x01
    return f"{prefix}:{key_id}:{base64.urlsafe_b64encode(bytes(blob)).decode()}"


@pytest.mark.parametrize(
    "tamper",
    [
        _flip_one_byte,
        lambda t: t[:-8],  # truncated
        lambda t: t[:12],  # nothing left but the nonce
        lambda t: t + "!",  # a character outside base64
        lambda t: t.replace("v1:", "v2:", 1),
        lambda t: "plain text that was never encrypted",
    ],
    ids=["flipped-byte", "truncated", "nonce-only", "junk-character", "unknown-version", "plaintext"],
)
def test_tampered_ciphertext_fails_loudly(tamper):
    token = encrypt("4111 1111 1111 1111", context=CONTEXT)
    with pytest.raises(DecryptionError):
        decrypt(tamper(token), context=CONTEXT)


def test_ciphertext_moved_to_another_column_does_not_decrypt():
    token = encrypt("1990-01-31", context="endorsements.employee.date_of_birth")
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(token, context="endorsements.employee.first_name")


def test_value_under_a_retired_key_fails_loudly():
    old, _ = keyring("old")
    new, _ = keyring("new")
    with override_settings(FIELD_ENCRYPTION_KEYS=old):
        token = encrypt("secret", context=CONTEXT)
    with override_settings(FIELD_ENCRYPTION_KEYS=new), pytest.raises(DecryptionError, match="No key 'old'"):
        decrypt(token, context=CONTEXT)


def test_old_keys_decrypt_until_rotation_and_reencrypt_moves_to_the_active_key():
    old, old_keys = keyring("old")
    with override_settings(FIELD_ENCRYPTION_KEYS=old):
        token = encrypt("secret", context=CONTEXT)
    both = f"new:{encode_key(os.urandom(32))},old:{old_keys['old']}"
    with override_settings(FIELD_ENCRYPTION_KEYS=both):
        assert decrypt(token, context=CONTEXT) == "secret"
        rotated = reencrypt(token, context=CONTEXT)
        assert key_id_of(rotated) == "new"
        assert decrypt(rotated, context=CONTEXT) == "secret"
        assert reencrypt(rotated, context=CONTEXT) is rotated  # already under the active key: untouched


def test_override_settings_switches_the_provider_and_back():
    before = key_provider().active_key_id()
    raw, _ = keyring("override")
    with override_settings(FIELD_ENCRYPTION_KEYS=raw):
        assert key_provider().active_key_id() == "override"
    assert key_provider().active_key_id() == before


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("nocolon", "look like"),
        ("a:b:" + encode_key(os.urandom(32)), "base64"),
        ("bad id:" + encode_key(os.urandom(32)), "key id"),
        ("short:" + encode_key(os.urandom(16)), "32 bytes"),
        ("dup:" + encode_key(os.urandom(32)) + ",dup:" + encode_key(os.urandom(32)), "twice"),
        ("k1:not*base64", "base64"),
    ],
    # Named ids: the random keys would otherwise be in the ids, and pytest-xdist's workers refuse
    # to run when their collections differ.
    ids=["no-colon", "empty-key-id", "bad-key-id", "short-key", "duplicate-id", "bad-base64"],
)
def test_malformed_keyring_is_a_configuration_error(raw, complaint):
    with pytest.raises(ImproperlyConfigured, match=complaint):
        parse_keyring(raw)


def test_short_blind_index_key_is_refused():
    with pytest.raises(ImproperlyConfigured, match="at least 32 bytes"):
        parse_index_key(encode_key(os.urandom(8)))


def test_production_without_keys_refuses_to_build_a_provider():
    with (
        override_settings(IS_PRODUCTION=True, FIELD_ENCRYPTION_KEYS="", BLIND_INDEX_KEY=""),
        pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"),
    ):
        key_provider()


def test_an_encrypted_field_refuses_unique_and_index():
    from escrow_project.common.crypto.fields import EncryptedTextField
    from identity.models import Organization

    field = EncryptedTextField(unique=True)
    field.set_attributes_from_name("secret")
    field.model = Organization
    assert [message.id for message in field.check()] == ["common.E401"]
