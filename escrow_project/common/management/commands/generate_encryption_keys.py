"""Print fresh key settings as environment lines (nothing is written anywhere)."""

from __future__ import annotations

import datetime
import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from escrow_project.common.crypto.envelope import INDEX_KEY_ID, LocalKeyWrapper, key_wrapper, wrap_new_key
from escrow_project.common.crypto.keys import KEY_BYTES, encode_key, validate_key_id


def new_key_id() -> str:
    return f"k{datetime.datetime.now(tz=datetime.UTC):%Y%m%d}{secrets.token_hex(2)}"


class Command(BaseCommand):
    help = (
        "Print FIELD_ENCRYPTION_KEYS / BLIND_INDEX_KEY lines (or, with --envelope, wrapped keys) for the "
        "environment. To rotate: --rotate puts a new active key in front of the current ones, then run "
        "rotate_encryption_keys, then drop the old keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key-id", default="", help="Id of the new key (default: k<date><random>).")
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Prepend the new key to the configured keys and keep the current blind index key.",
        )
        parser.add_argument(
            "--envelope",
            action="store_true",
            help="Print data keys wrapped by the key-encryption key (EnvelopeKeyProvider).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key_id = validate_key_id(options["key_id"] or new_key_id())
        if options["envelope"]:
            self._envelope(key_id, rotate=options["rotate"])
            return
        entry = f"{key_id}:{encode_key(os.urandom(KEY_BYTES))}"
        current = settings.FIELD_ENCRYPTION_KEYS.strip()
        if options["rotate"] and current:
            self.stdout.write(f"FIELD_ENCRYPTION_KEYS={entry},{current}")
            self.stdout.write(f"BLIND_INDEX_KEY={settings.BLIND_INDEX_KEY}")
        else:
            self.stdout.write(f"FIELD_ENCRYPTION_KEYS={entry}")
            self.stdout.write(f"BLIND_INDEX_KEY={encode_key(os.urandom(KEY_BYTES))}")

    def _envelope(self, key_id: str, *, rotate: bool) -> None:
        has_kek = bool(
            settings.KEY_ENCRYPTION_KEY or settings.KEY_ENCRYPTION_KEY_FILE
        ) or not settings.KEY_WRAPPER.endswith(".LocalKeyWrapper")
        if has_kek:
            wrapper = key_wrapper()
        else:
            kek = os.urandom(KEY_BYTES)
            wrapper = LocalKeyWrapper(kek)
            self.stdout.write(f"KEY_ENCRYPTION_KEY={encode_key(kek)}")
        self.stdout.write("KEY_PROVIDER=escrow_project.common.crypto.envelope.EnvelopeKeyProvider")
        entry = wrap_new_key(wrapper, key_id=key_id)
        current = settings.WRAPPED_DATA_KEYS.strip()
        if rotate and current and has_kek:
            self.stdout.write(f"WRAPPED_DATA_KEYS={entry},{current}")
            self.stdout.write(f"WRAPPED_BLIND_INDEX_KEY={settings.WRAPPED_BLIND_INDEX_KEY}")
        else:
            self.stdout.write(f"WRAPPED_DATA_KEYS={entry}")
            self.stdout.write(f"WRAPPED_BLIND_INDEX_KEY={wrap_new_key(wrapper, key_id=INDEX_KEY_ID)}")
