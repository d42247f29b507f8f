"""Re-encrypt every encrypted column of every model under the active key, in batches.

Safe to stop and re-run: values already under the active key are skipped (by their key id), and
each batch commits on its own. Each row is written with a compare-and-set on the old ciphertext,
so a concurrent application write (already under the active key) is never overwritten. Old keys
must stay configured until this reports nothing left under them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, router, transaction

from escrow_project.common.crypto.cipher import DecryptionError, key_id_of, reencrypt
from escrow_project.common.crypto.fields import encrypted_fields
from escrow_project.common.crypto.keys import key_provider


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the active key (resumable, batched, with progress)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--model", action="append", default=[], help="Only app_label.Model (repeatable).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be re-encrypted; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        only = {label.lower() for label in options["model"]}
        active = key_provider().active_key_id()
        self.stdout.write(f"Active key: {active}; keys configured: {', '.join(key_provider().key_ids())}")
        total_rotated = total_left = 0
        for model, field in encrypted_fields():
            if only and model._meta.label_lower not in only:
                continue
            rotated, left = self._rotate_column(
                model, field, active=active, batch_size=batch_size, dry_run=options["dry_run"]
            )
            total_rotated += rotated
            total_left += left
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(
            self.style.SUCCESS(f"Done: {verb} {total_rotated} value(s); {total_left} not under {active}.")
        )
        if total_left and not options["dry_run"]:
            raise CommandError(f"{total_left} value(s) could not be re-encrypted; see above. Keep the old keys.")

    def _rotate_column(self, model: Any, field: Any, *, active: str, batch_size: int, dry_run: bool) -> tuple[int, int]:
        alias = router.db_for_write(model)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table, pk, column = quote(model._meta.db_table), quote(model._meta.pk.column), quote(field.column)
        context = field.encryption_context
        label = f"{model._meta.label_lower}.{field.name}"
        last_pk: Any = None
        scanned = rotated = failed = 0
        while True:
            where = f"{column} IS NOT NULL AND {column} <> ''" + (f" AND {pk} > %s" if last_pk is not None else "")
            params = [last_pk] if last_pk is not None else []
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {pk}, {column} FROM {table} WHERE {where} ORDER BY {pk} LIMIT %s",  # noqa: S608 - quoted identifiers
                    [*params, batch_size],
                )
                batch = cursor.fetchall()
            if not batch:
                break
            last_pk = batch[-1][0]
            scanned += len(batch)
            updates: list[tuple[str, Any, str]] = []
            for row_pk, token in batch:
                try:
                    if key_id_of(token) == active:
                        continue
                    updates.append((reencrypt(token, context=context), row_pk, token))
                except DecryptionError as exc:
                    failed += 1
                    self.stderr.write(f"  {label} pk={row_pk}: {exc}")
            if updates and not dry_run:
                with transaction.atomic(using=alias), connection.cursor() as cursor:
                    for new, row_pk, old in updates:
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                            [new, row_pk, old],
                        )
            rotated += len(updates)
            self.stdout.write(f"  {label}: scanned {scanned}, re-encrypted {rotated}, failed {failed}")
        if scanned == 0:
            self.stdout.write(f"  {label}: empty")
        return rotated, failed
