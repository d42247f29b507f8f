"""The database refuses what Python should never attempt: unbalanced entries, edits, overdrafts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ledger import services
from ledger.models import Account, JournalEntry, JournalLine
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db


def _raw_entry(key: str) -> JournalEntry:
    return JournalEntry.objects.create(idempotency_key=key, fingerprint="x", kind="entry", created_at=timezone.now())


def _line(entry, account, side, amount):
    return JournalLine(
        entry=entry,
        account=account,
        side=side,
        amount=Decimal(amount),
        currency="USD",
        posted_debits_after=0,
        posted_credits_after=0,
        created_at=timezone.now(),
    )


@transaction.atomic
def _write_and_check(key, lines):
    """Bypass the services and write lines directly (one INSERT, as the services do); then run any
    deferred checks as COMMIT would."""
    entry = _raw_entry(key)
    JournalLine.objects.bulk_create([_line(entry, account, side, amount) for account, side, amount in lines])
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@requires_postgres
def test_unbalanced_entry_is_refused_by_the_trigger(open_wallet):
    a, b = open_wallet(no_overdraft=False), open_wallet()
    with pytest.raises(IntegrityError, match="unbalanced"):
        _write_and_check("raw-unbalanced", [(a, "debit", "10"), (b, "credit", "9")])
    assert not JournalEntry.objects.filter(idempotency_key="raw-unbalanced").exists()


@requires_postgres
def test_single_line_entry_is_refused_by_the_trigger(open_wallet):
    a = open_wallet(no_overdraft=False)
    with pytest.raises(IntegrityError, match="line"):
        _write_and_check("raw-single", [(a, "debit", "10")])


def test_journal_rows_cannot_be_updated(open_wallet):
    payer, payee = open_wallet("10"), open_wallet()
    entry = services.transfer_create(
        idempotency_key="imm",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("1"),
        currency="USD",
    )
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).update(amount=Decimal("5"))
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(description="edited")
    assert JournalLine.objects.filter(entry=entry, amount=Decimal("1")).count() == 2


@requires_postgres
def test_journal_rows_cannot_be_deleted(open_wallet):
    payer, payee = open_wallet("10"), open_wallet()
    entry = services.transfer_create(
        idempotency_key="del",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("1"),
        currency="USD",
    )
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).delete()
    assert JournalLine.objects.filter(entry=entry).count() == 2


@requires_postgres
def test_guard_check_constraint_backs_up_the_python_check(open_wallet):
    wallet = open_wallet("10")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(posted_debits=Decimal("10.01"))
    wallet.refresh_from_db()
    assert wallet.posted_debits == 0


@requires_postgres
def test_a_line_added_later_to_a_balanced_entry_is_refused(open_wallet):
    a, b = open_wallet(no_overdraft=False), open_wallet()
    _write_and_check("raw-balanced", [(a, "debit", "10"), (b, "credit", "10")])
    entry = JournalEntry.objects.get(idempotency_key="raw-balanced")
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        JournalLine.objects.bulk_create([_line(entry, a, "debit", "1")])
    assert entry.lines.count() == 2
