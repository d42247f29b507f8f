"""The envelope provider really unwraps stored data keys with a key-encryption key; the key
generation command prints settings that work; a broken key configuration fails the system check."""

from __future__ import annotations

import io
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from escrow_project.common.checks import check_encryption_keys
from escrow_project.common.crypto.blind_index import blind_index
from escrow_project.common.crypto.cipher import decrypt, encrypt, key_id_of
from escrow_project.common.crypto.envelope import EnvelopeKeyProvider, LocalKeyWrapper, wrap_new_key
from escrow_project.common.crypto.keys import encode_key, key_provider, parse_keyring

ENVELOPE = "escrow_project.common.crypto.envelope.EnvelopeKeyProvider"


def _generate(*args: str) -> dict[str, str]:
    out = io.StringIO()
    call_command("generate_encryption_keys", *args, stdout=out)
    return dict(line.split("=", 1) for line in out.getvalue().splitlines())


def test_wrapped_key_unwraps_only_under_its_kek_and_its_id():
    kek = os.urandom(32)
    data_key = os.urandom(32)
    wrapped = LocalKeyWrapper(kek).wrap(data_key, key_id="k1")
    assert data_key not in wrapped
    assert LocalKeyWrapper(kek).unwrap(wrapped, key_id="k1") == data_key
    with pytest.raises(ImproperlyConfigured, match="does not unwrap"):
        LocalKeyWrapper(os.urandom(32)).unwrap(wrapped, key_id="k1")
    with pytest.raises(ImproperlyConfigured, match="does not unwrap"):
        LocalKeyWrapper(kek).unwrap(wrapped, key_id="k2")  # a wrapped key relabelled as another id


def test_envelope_provider_encrypts_with_unwrapped_keys_and_rotates(tmp_path):
    kek = os.urandom(32)
    kek_file = tmp_path / "kek"
    kek_file.write_text(encode_key(kek))
    wrapper = LocalKeyWrapper(kek)
    old, new, index = (wrap_new_key(wrapper, key_id=i) for i in ("old", "new", "blind-index"))
    with override_settings(
        KEY_PROVIDER=ENVELOPE,
        KEY_ENCRYPTION_KEY_FILE=str(kek_file),
        WRAPPED_DATA_KEYS=old,
        WRAPPED_BLIND_INDEX_KEY=index,
    ):
        assert isinstance(key_provider(), EnvelopeKeyProvider)
        token = encrypt("GB82WEST12345698765432", context="t.m.iban")
        digest = blind_index("GB82WEST12345698765432", purpose="iban")
    with override_settings(
        KEY_PROVIDER=ENVELOPE,
        KEY_ENCRYPTION_KEY_FILE=str(kek_file),
        WRAPPED_DATA_KEYS=f"{new},{old}",
        WRAPPED_BLIND_INDEX_KEY=index,
    ):
        assert decrypt(token, context="t.m.iban") == "GB82WEST12345698765432"
        assert key_id_of(encrypt("x", context="t.m.iban")) == "new"
        assert blind_index("GB82WEST12345698765432", purpose="iban") == digest
    # The same wrapped keys under another KEK are useless.
    with override_settings(
        KEY_PROVIDER=ENVELOPE,
        KEY_ENCRYPTION_KEY_FILE="",
        KEY_ENCRYPTION_KEY=encode_key(os.urandom(32)),
        WRAPPED_DATA_KEYS=old,
        WRAPPED_BLIND_INDEX_KEY=index,
    ):
        with pytest.raises(ImproperlyConfigured, match="does not unwrap"):
            key_provider()
        assert [m.id for m in check_encryption_keys()] == ["common.E402"]


def test_generated_environment_keys_work_and_rotate_prepends_a_new_active_key():
    first = _generate("--key-id", "first")
    assert list(parse_keyring(first["FIELD_ENCRYPTION_KEYS"])) == ["first"]
    with override_settings(**first):
        token = encrypt("v", context="t.m.f")
        rotated = _generate("--rotate", "--key-id", "second")
    assert list(parse_keyring(rotated["FIELD_ENCRYPTION_KEYS"])) == ["second", "first"]
    assert rotated["BLIND_INDEX_KEY"] == first["BLIND_INDEX_KEY"]  # lookups keep working
    with override_settings(**rotated):
        assert decrypt(token, context="t.m.f") == "v"
        assert key_id_of(encrypt("v", context="t.m.f")) == "second"


def test_generated_envelope_keys_work():
    generated = _generate("--envelope", "--key-id", "env1")
    with override_settings(KEY_ENCRYPTION_KEY_FILE="", **generated):
        assert key_provider().key_ids() == ["env1"]
        assert check_encryption_keys() == []


def test_system_check_passes_with_the_default_keys():
    assert check_encryption_keys() == []
