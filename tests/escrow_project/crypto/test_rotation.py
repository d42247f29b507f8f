"""Key rotation re-encrypts every row of every encrypted field; old ciphertext decrypts until then;
a tampered stored value fails loudly."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from escrow_project.common.crypto.cipher import DecryptionError, key_id_of
from escrow_project.common.crypto.keys import encode_key
from identity.models import User
from tests.escrow_project.crypto.canary import build_with_canaries, canary_for, encrypted_models
from tests.factories import UserFactory

OLD = f"old:{encode_key(os.urandom(32))}"
NEW = f"new:{encode_key(os.urandom(32))}"


def _raw(model: Any, field: Any) -> list[tuple[Any, str]]:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(model._meta.pk.column)}, {quote(field.column)} FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(field.column)} IS NOT NULL AND {quote(field.column)} <> ''"
        )
        return list(cursor.fetchall())


def _key_ids() -> set[str]:
    return {
        key_id_of(token) for model, fields in encrypted_models().items() for f in fields for _, token in _raw(model, f)
    }


def _seed_under_old_key() -> dict[Any, Any]:
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD):
        rows: dict[Any, Any] = {
            model: build_with_canaries(model, fields) for model, fields in encrypted_models().items()
        }
        rows["people"] = [  # more rows than one batch
            UserFactory.create(first_name=f"First{n}", last_name=f"Last{n}", email=f"person{n}@example.test").pk
            for n in range(7)
        ]
    return rows


@pytest.mark.django_db
def test_rotation_reencrypts_every_row_and_old_ciphertext_decrypts_until_then():
    rows = _seed_under_old_key()
    assert _key_ids() == {"old"}

    with override_settings(FIELD_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        # Before rotation: the new key encrypts, the old one still decrypts what is stored.
        for model, fields in encrypted_models().items():
            reloaded = model._base_manager.get(pk=rows[model].pk)
            assert all(getattr(reloaded, f.name) == canary_for(f) for f in fields)

        dry = io.StringIO()
        call_command("rotate_encryption_keys", "--dry-run", stdout=dry)
        assert _key_ids() == {"old"}  # a dry run writes nothing

        out = io.StringIO()
        call_command("rotate_encryption_keys", "--batch-size", "3", stdout=out)
        assert "identity.user.email: scanned 3, re-encrypted 3" in out.getvalue()  # progress per batch
        assert _key_ids() == {"new"}

        again = io.StringIO()
        call_command("rotate_encryption_keys", stdout=again)  # resumable: a re-run finds nothing to do
        assert "Done: re-encrypted 0 value(s)" in again.getvalue()

    # After rotation the old key can go: everything decrypts under the new key alone.
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW):
        for model, fields in encrypted_models().items():
            reloaded = model._base_manager.get(pk=rows[model].pk)
            assert all(getattr(reloaded, f.name) == canary_for(f) for f in fields)
        people = User.objects.filter(pk__in=rows["people"])
        assert sorted(p.first_name for p in people) == [f"First{n}" for n in range(7)]


@pytest.mark.django_db
def test_an_interrupted_rotation_resumes_where_it_stopped():
    _seed_under_old_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        call_command("rotate_encryption_keys", "--model", "identity.user", stdout=io.StringIO())
        users = {key_id_of(token) for _, token in _raw(User, User._meta.get_field("email"))}
        assert users == {"new"}
        out = io.StringIO()
        call_command("rotate_encryption_keys", stdout=out)
        assert _key_ids() == {"new"}


@pytest.mark.django_db
def test_without_the_old_key_stored_values_fail_loudly():
    _seed_under_old_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW), pytest.raises(DecryptionError, match="No key 'old'"):
        list(User.objects.all())


@pytest.mark.django_db
def test_a_tampered_stored_value_fails_loudly_and_rotation_reports_it():
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD):
        user = UserFactory.create(email="victim@example.test")
        other = UserFactory.create(email="bystander@example.test")
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM identity_user WHERE id = %s", [user.pk])
        token = cursor.fetchone()[0]
        flipped = "A" if token[-5] != "A" else "B"  # one character of the sealed body, padding untouched
        cursor.execute(
            "UPDATE identity_user SET email = %s WHERE id = %s", [token[:-5] + flipped + token[-4:], user.pk]
        )

    with override_settings(FIELD_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        with pytest.raises(DecryptionError, match=r"failed authentication \(identity\.user\.email\)"):
            User.objects.get(pk=user.pk)
        assert User.objects.get(pk=other.pk).email == "bystander@example.test"

        err = io.StringIO()
        with pytest.raises(CommandError, match="1 value"):
            call_command("rotate_encryption_keys", stdout=io.StringIO(), stderr=err)
        assert f"pk={user.pk}" in err.getvalue()
        assert "victim" not in err.getvalue()
        assert key_id_of(_raw_value(User, "email", other.pk)) == "new"  # the rest was rotated
        assert User.objects.get(pk=other.pk).email == "bystander@example.test"


def _raw_value(model: Any, field_name: str, pk: Any) -> str:
    return next(token for row_pk, token in _raw(model, model._meta.get_field(field_name)) if row_pk == pk)


@pytest.mark.django_db
def test_rotation_never_overwrites_a_value_the_application_wrote_meanwhile(monkeypatch):
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD):
        user = UserFactory.create(email="before@example.test")
    from escrow_project.common.management.commands import rotate_encryption_keys as command

    real_reencrypt = command.reencrypt

    def reencrypt_while_the_app_writes(token: str, *, context: str) -> str:
        rotated = real_reencrypt(token, context=context)
        if context == "identity.user.email":
            # Between the command's read and its write, a request changes the address.
            User.objects.filter(pk=user.pk).update(email="after@example.test")
        return rotated

    monkeypatch.setattr(command, "reencrypt", reencrypt_while_the_app_writes)
    with override_settings(FIELD_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        call_command("rotate_encryption_keys", "--model", "identity.user", stdout=io.StringIO())
        assert User.objects.get(pk=user.pk).email == "after@example.test"
        assert key_id_of(_raw_value(User, "email", user.pk)) == "new"
