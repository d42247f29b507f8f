"""An insurer's monthly statement against our confirmed endorsements: every line classified exactly."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from endorsements.models import Direction, EndorsementKind, EndorsementRequest, Member
from endorsements.services.reconciliation import insurer_audit_import, insurer_statement_import
from endorsements.states import RequestState
from endorsements.validation import member_index
from endorsements.x12 import Envelope, Transaction834, write_834
from escrow_project.common.errors import UnprocessableError
from ledger.models import ReconciliationBreak, ReconciliationLine, ReconciliationRun
from notifications.models import Notification
from tests.endorsements.conftest import World
from tests.factories import operator

pytestmark = pytest.mark.django_db

MARCH = (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))


def _member(world: World, member_id: str) -> Member:
    return Member.objects.create(
        policy=world.policy,
        member_id=member_id,
        member_index=member_index(member_id),
        person_name=f"Person {member_id}",
        date_of_birth="1980-01-01",
        relationship="employee",
        plan="BASIC",
        status=Member.Status.COVERED,
    )


def _request(world: World, member_id: str, kind: str, amount: str, *, state: str = RequestState.CONFIRMED,
             day: int = 1) -> EndorsementRequest:  # fmt: skip
    member = Member.objects.filter(member_index=member_index(member_id)).first() or _member(world, member_id)
    return EndorsementRequest.objects.create(
        tracking_id=f"EQ-{member_id}-{kind[:3]}",
        policy=world.policy,
        employer=world.employer,
        insurer=world.insurer,
        member=member,
        kind=kind,
        plan="BASIC",
        effective_date=datetime.date(2026, 3, day),
        direction=Direction.CREDIT if kind == EndorsementKind.DELETION else Direction.DEBIT,
        amount=Decimal(amount),
        currency="USD",
        content_hash=f"hash-{member_id}-{kind}",
        state=state,
    )


STATEMENT = """reference,member_id,action,effective_date,amount,currency,status
EQ-E-1-add,E-1,add,2026-03-01,120.00,USD,active
,E-2,delete,2026-03-01,-45.50,USD,active
,E-3,add,2026-03-01,100.00,USD,active
,E-4,add,2026-03-01,80.02,USD,active
,E-5,add,2026-03-11,40.00,USD,active
,E-6,add,2026-03-01,30.00,USD,cancelled
,E-9,add,2026-03-01,50.00,USD,active
EQ-E-1-add,E-1,add,2026-03-01,120.00,USD,active
"""


def _statement_world(world: World) -> None:
    _request(world, "E-1", EndorsementKind.ADDITION, "120.00", state=RequestState.ACTIVE)
    _request(world, "E-2", EndorsementKind.DELETION, "45.50")  # a refund to the employer
    _request(world, "E-3", EndorsementKind.ADDITION, "99.99")  # one cent off: inside the tolerance
    _request(world, "E-4", EndorsementKind.ADDITION, "80.00")  # two cents off: outside
    _request(world, "E-5", EndorsementKind.ADDITION, "60.00")  # they date it ten days later, prorated less
    _request(world, "E-6", EndorsementKind.ADDITION, "30.00")  # they say cancelled
    _request(world, "E-7", EndorsementKind.ADDITION, "75.00")  # confirmed here, absent from the statement
    _request(world, "E-8", EndorsementKind.ADDITION, "10.00", state=RequestState.SENT)  # not confirmed: not compared


def _import(world: World, text: str = STATEMENT) -> tuple[ReconciliationRun, bool]:
    return insurer_statement_import(
        insurer=world.insurer,
        handle=io.BytesIO(text.encode()),
        period_start=MARCH[0],
        period_end=MARCH[1],
        tolerance=Decimal("0.01"),
        file_name="march.csv",
        actor="user:test",
    )


def test_a_statement_with_lines_of_every_class_is_classified_exactly(world: World) -> None:
    _statement_world(world)
    operator()  # someone to alert

    run, created = _import(world)

    assert created
    lines = {(line.our_source or line.their_source, line.position): line for line in run.lines.all()}
    by_source: dict[str, list[ReconciliationLine]] = {}
    for (source, _position), line in sorted(lines.items(), key=lambda item: item[0][1]):
        by_source.setdefault(source, []).append(line)
    got = {source: [(line.outcome_list, line.difference) for line in rows] for source, rows in by_source.items()}
    assert got == {
        "EQ-E-1-add": [(["matched"], Decimal("0"))],
        "EQ-E-2-del": [(["matched"], Decimal("0"))],
        "EQ-E-3-add": [(["matched_within_tolerance"], Decimal("0.01"))],
        "EQ-E-4-add": [(["amount_delta"], Decimal("0.02"))],
        "EQ-E-5-add": [(["amount_delta", "date_delta"], Decimal("-20.00"))],
        "EQ-E-6-add": [(["status_delta"], Decimal("0"))],
        "row 8": [(["missing_internal"], Decimal("50.00"))],
        "row 9": [(["duplicate"], Decimal("120.00"))],
        "EQ-E-7-add": [(["missing_at_counterparty"], Decimal("-75.00"))],
    }
    refund = next(line for line in run.lines.all() if line.our_source == "EQ-E-2-del")
    assert (refund.our_amount, refund.their_amount) == (Decimal("-45.50"), Decimal("-45.50"))
    dated = next(line for line in run.lines.all() if line.our_source == "EQ-E-5-add")
    assert (dated.our_date, dated.their_date, dated.date_delta_days) == (
        datetime.date(2026, 3, 1),
        datetime.date(2026, 3, 11),
        10,
    )
    assert (run.line_count, run.break_count) == (9, 6)
    assert (run.summary["matched"], run.summary["date_delta"]) == (2, 1)
    assert sorted(b.line.our_source or b.line.their_source for b in run.breaks.select_related("line")) == [
        "EQ-E-4-add", "EQ-E-5-add", "EQ-E-6-add", "EQ-E-7-add", "row 8", "row 9",
    ]  # fmt: skip
    alerts = Notification.objects.filter(kind="reconciliation_breaks_found", subject_id=str(run.public_id))
    assert alerts.exists()


def test_importing_the_same_statement_again_returns_the_first_run_and_writes_nothing(world: World) -> None:
    _statement_world(world)
    operator()
    first, _ = _import(world)
    counts = (ReconciliationRun.objects.count(), ReconciliationLine.objects.count(),
              ReconciliationBreak.objects.count(), Notification.objects.count())  # fmt: skip

    again, created = _import(world)

    assert (again.pk, created) == (first.pk, False)
    assert (ReconciliationRun.objects.count(), ReconciliationLine.objects.count(),
            ReconciliationBreak.objects.count(), Notification.objects.count()) == counts  # fmt: skip


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",E-10,upgrade,2026-03-01,5.00,USD,active", "row 10: action must be one of"),
        (",E-10,add,2026-03-01,1e20,USD,active", "row 10: amount must be a number of at most 4 decimals"),
        (",E-10,add,2026-03-01,0.00001,USD,active", "row 10: amount must be a number of at most 4 decimals"),
        (",E-10,add,2026-03-01,NaN,USD,active", "row 10: amount must be a number of at most 4 decimals"),
        (",E-10,add,2026-03-01,5.00,DOLLARS,active", "row 10: currency must be a 3-letter"),
        (",,add,2026-03-01,5.00,USD,active", "row 10: member_id is empty"),
        (",E-10,add,1 March,5.00,USD,active", "row 10: amount must be a number and effective_date YYYY-MM-DD"),
        (",E-10,add,2026-03-01,5.00,USD,lapsed", "row 10: status must be one of"),
        ("EQ-\x00,E-10,add,2026-03-01,5.00,USD,active", "row 10: a value contains a NUL character"),
    ],
)
def test_a_statement_with_a_bad_row_is_refused_whole(world: World, row: str, message: str) -> None:
    _statement_world(world)
    with pytest.raises(UnprocessableError, match=message):
        _import(world, STATEMENT + row + "\n")
    assert not ReconciliationRun.objects.exists()
    assert not ReconciliationLine.objects.exists()


def test_a_file_that_is_not_a_statement_is_refused(world: World) -> None:
    with pytest.raises(UnprocessableError, match="header must name the columns"):
        _import(world, "name,salary\nAda,1\n")
    with pytest.raises(UnprocessableError, match=r"not UTF-8|cannot be read"):
        insurer_statement_import(insurer=world.insurer, handle=io.BytesIO(b"member_id,action\n\xff\xfe,add\n"),
                                 period_start=MARCH[0], period_end=MARCH[1])  # fmt: skip
    assert not ReconciliationRun.objects.exists()


def test_an_834_audit_file_is_compared_with_our_open_coverages(world: World) -> None:
    from endorsements.models import Coverage

    for member_id, plan in [("A-1", "BASIC"), ("A-2", "BASIC"), ("A-3", "BASIC")]:
        member = _member(world, member_id)
        Coverage.objects.create(member=member, policy=world.policy, plan=plan, start_date=datetime.date(2026, 1, 1))
    envelope = Envelope("INSURER", "PLATFORM", 7, datetime.datetime(2026, 4, 1, 6, 0, tzinfo=datetime.UTC))

    def enrolled(member_id: str, plan: str) -> Transaction834:
        from endorsements.x12 import Enrollment

        return Transaction834(
            policy_number=world.policy.policy_number,
            sponsor_name="Employer",
            sponsor_id="EMP",
            insurer_name="Insurer",
            insurer_id="INS",
            enrollments=[
                Enrollment(
                    "030",
                    member_id,
                    member_id,
                    "employee",
                    "Person X",
                    datetime.date(1980, 1, 1),
                    plan,
                    datetime.date(2026, 1, 1),
                )
            ],
        )

    text = write_834(
        envelope=envelope,
        reference="AUDIT-2026-04",
        transactions=[enrolled("A-1", "BASIC"), enrolled("A-2", "PLUS"), enrolled("A-4", "BASIC")],
        audit=True,
    )

    run, _ = insurer_audit_import(insurer=world.insurer, handle=io.BytesIO(text.encode()), currency="USD")

    outcomes = sorted((line.outcome, line.their_status or line.our_status) for line in run.lines.all())
    assert outcomes == [
        ("matched", "BASIC"),
        ("missing_at_counterparty", "BASIC"),
        ("missing_internal", "BASIC"),
        ("status_delta", "PLUS"),
    ]


def test_a_resolution_is_an_audit_event_on_the_run(world: World) -> None:
    from ledger import services as ledger

    _statement_world(world)
    run, _ = _import(world)
    brk = run.breaks.get(line__our_source="EQ-E-6-add")

    ledger.break_resolve(break_id=brk.pk, actor="user:ops-1", reason_code="raised_with_counterparty",
                         note="asked the insurer why they show it cancelled")  # fmt: skip

    [event] = AuditEvent.objects.filter(subject_type="reconciliation_run", subject_id=str(run.public_id))
    assert (event.kind, event.actor) == ("reconciliation.resolved", "user:ops-1")
    assert event.payload["reason_code"] == "raised_with_counterparty"
    assert event.payload["outcomes"] == ["status_delta"]


def test_the_command_records_a_statement_once_and_fails_on_breaks(world: World, tmp_path) -> None:
    from django.core.management import CommandError, call_command

    _statement_world(world)
    path = tmp_path / "march.csv"
    path.write_text(STATEMENT)
    out = io.StringIO()
    with pytest.raises(CommandError, match="6 break"):
        call_command("insurer_statement", str(path), "--insurer", world.insurer.slug, "--period", "2026-03",
                     "--tolerance", "0.01", stdout=out)  # fmt: skip
    assert "recorded: run" in out.getvalue()
    again = io.StringIO()
    with pytest.raises(CommandError):
        call_command("insurer_statement", str(path), "--insurer", world.insurer.slug, "--period", "2026-03",
                     stdout=again)  # fmt: skip
    assert "already recorded" in again.getvalue()
    assert ReconciliationRun.objects.count() == 1
