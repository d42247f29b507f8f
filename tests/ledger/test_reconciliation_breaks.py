"""Breaks are worked: assigned, commented, resolved with a reason; money moves only through entries."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from ledger import selectors, services
from ledger.models import BreakStatus, JournalEntry, JournalLine, ReconciliationBreak
from ledger.reconciliation import Line

pytestmark = pytest.mark.django_db

D = datetime.date(2026, 3, 1)


def _run(business: str = "endorsements", key: str = "statement-1"):
    ours = [Line(Decimal("80.00"), "USD", ("m1", "add"), D, source="EQ-1"),
            Line(Decimal("10.00"), "USD", ("m2", "add"), D, source="EQ-2")]  # fmt: skip
    theirs = [Line(Decimal("80.02"), "USD", ("m1", "add"), D, source="row 1"),
              Line(Decimal("10.00"), "USD", ("m2", "add"), D, source="row 2")]  # fmt: skip
    run, _ = services.reconciliation_run_record(
        kind="insurer_statement", business=business, counterparty="organization:1", statement_key=key,
        ours=ours, theirs=theirs,
    )  # fmt: skip
    return run


def _audit_events(run) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(subject_type="reconciliation_run", subject_id=str(run.public_id)))


def test_a_correction_is_a_balanced_adjustment_and_the_resolution_is_audited(open_wallet):
    wallet = open_wallet("100.00")
    run = _run()
    [brk] = run.breaks.all()
    services.break_assign(break_id=brk.pk, assignee="user:ops-2", actor="user:ops-1")
    services.break_comment(break_id=brk.pk, actor="user:ops-2", body="the insurer prorates from the 1st")

    resolved = services.break_resolve(
        break_id=brk.pk, actor="user:ops-2", reason_code="corrected_internally", note="we undercharged 0.02",
        correction={"account": str(wallet.public_id), "amount": "0.02", "direction": "debit"},
    )  # fmt: skip

    assert resolved.status == BreakStatus.RESOLVED
    entry = resolved.correction_entry
    assert entry is not None
    assert entry.kind == "adjustment"
    lines = list(JournalLine.objects.filter(entry=entry))
    debits = sum(line.amount for line in lines if line.side == "debit")
    credits = sum(line.amount for line in lines if line.side == "credit")
    assert (debits, credits) == (Decimal("0.02"), Decimal("0.02"))
    assert selectors.account_balance(account_id=wallet.pk).balance == Decimal("99.98")
    [event] = _audit_events(run)
    assert event.kind == "reconciliation.resolved"
    assert event.payload["correction_entry"] == str(entry.public_id)
    assert event.payload["difference"] == "0.0200"
    assert [c.body for c in resolved.comments.all()][:2] == [
        "assigned to user:ops-2",
        "the insurer prorates from the 1st",
    ]
    with pytest.raises(ConflictError):
        services.break_resolve(break_id=brk.pk, actor="user:ops-2", reason_code="accepted_difference", note="again")


def test_a_write_off_waits_for_a_second_person_and_posts_once_approved(open_wallet):
    wallet = open_wallet("100.00")
    run = _run()
    [brk] = run.breaks.all()
    correction = {"account": str(wallet.public_id), "amount": "0.02", "direction": "credit"}
    entries_before = JournalEntry.objects.count()

    services.break_resolve(break_id=brk.pk, actor="user:ops-1", reason_code="write_off", note="too small to chase",
                           correction=correction)  # fmt: skip

    brk.refresh_from_db()
    assert (brk.status, JournalEntry.objects.count()) == (BreakStatus.PENDING, entries_before)
    with pytest.raises(PermissionDeniedError):
        services.break_write_off_approve(break_id=brk.pk, actor="user:ops-1")
    approved = services.break_write_off_approve(break_id=brk.pk, actor="user:ops-2")

    assert (approved.status, approved.decided_by) == (BreakStatus.RESOLVED, "user:ops-2")
    assert JournalEntry.objects.count() == entries_before + 1
    assert selectors.account_balance(account_id=wallet.pk).balance == Decimal("100.02")
    assert [e.kind for e in _audit_events(run)] == [
        "reconciliation.write_off_requested",
        "reconciliation.write_off_approved",
    ]


def test_a_rejected_write_off_reopens_the_break_and_moves_nothing(open_wallet):
    run = _run()
    [brk] = run.breaks.all()
    entries_before = JournalEntry.objects.count()
    services.break_resolve(break_id=brk.pk, actor="user:ops-1", reason_code="write_off", note="small")

    services.break_write_off_reject(break_id=brk.pk, actor="user:ops-2", reason="chase the insurer first")

    brk.refresh_from_db()
    assert (brk.status, brk.reason_code, JournalEntry.objects.count()) == (BreakStatus.OPEN, "", entries_before)
    # the same person may ask again later; another still decides
    services.break_resolve(break_id=brk.pk, actor="user:ops-1", reason_code="write_off", note="insurer agrees")
    services.break_write_off_approve(break_id=brk.pk, actor="user:ops-2")


def test_a_resolution_that_no_business_app_audits_is_refused():
    run = _run(business="nobody", key="statement-x")
    [brk] = run.breaks.all()
    with pytest.raises(ConflictError, match="No audit receiver"):
        services.break_resolve(break_id=brk.pk, actor="user:ops-1", reason_code="accepted_difference", note="ok")
    brk.refresh_from_db()
    assert brk.status == BreakStatus.OPEN


def test_only_a_correction_or_write_off_moves_money_and_a_note_is_required(open_wallet):
    wallet = open_wallet()
    [brk] = _run().breaks.all()
    correction = {"account": str(wallet.public_id), "amount": "1", "direction": "debit"}
    with pytest.raises(UnprocessableError, match="Only a correction"):
        services.break_resolve(
            break_id=brk.pk, actor="u", reason_code="accepted_difference", note="x", correction=correction
        )
    with pytest.raises(UnprocessableError, match="note"):
        services.break_resolve(break_id=brk.pk, actor="u", reason_code="accepted_difference", note=" ")
    assert ReconciliationBreak.objects.get(pk=brk.pk).status == BreakStatus.OPEN


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("1e3", "invalid_format"), ("0.025", "too_many_decimals"), (0.02, "not_a_string"), ("0", "zero")],
)
def test_a_correction_amount_goes_through_the_one_amount_parser(open_wallet, amount, reason):
    wallet = open_wallet("100.00")
    [brk] = _run().breaks.all()
    correction = {"account": str(wallet.public_id), "amount": amount, "direction": "debit"}
    with pytest.raises(UnprocessableError) as refused:
        services.break_resolve(
            break_id=brk.pk, actor="u", reason_code="corrected_internally", note="x", correction=correction
        )
    assert (refused.value.code, refused.value.errors[0]["code"]) == ("invalid_amount", reason)
    assert ReconciliationBreak.objects.get(pk=brk.pk).status == BreakStatus.OPEN
    assert selectors.account_balance(account_id=wallet.pk).balance == Decimal("100.00")


def test_open_breaks_are_counted_by_age_bucket():
    run = _run()
    [brk] = run.breaks.all()
    today = brk.opened_at.date()
    for days, bucket in [(0, "0-30"), (30, "0-30"), (31, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+")]:
        later = today + datetime.timedelta(days=days)
        assert selectors.break_age_bucket(opened_at=brk.opened_at, today=later) == bucket
        counts = selectors.breaks_open_by_age(today=later)
        assert counts[("endorsements", bucket)] == 1
        assert sum(counts.values()) == 1
