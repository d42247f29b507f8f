"""The reconciliation engine classifies every line of both sides exactly once, with signed differences."""

from __future__ import annotations

import datetime
from decimal import Decimal

from ledger.reconciliation import Line, Outcome, reconcile

D = datetime.date
USD = "USD"


def _ours(member: str, action: str, amount: str, day: int, reference: str = "", status: str = "active") -> Line:
    return Line(Decimal(amount), USD, (member, action), D(2026, 3, day), reference, status, source=f"ours:{member}")


def _theirs(member: str, action: str, amount: str, day: int, reference: str = "", status: str = "active") -> Line:
    return Line(Decimal(amount), USD, (member, action), D(2026, 3, day), reference, status, source=f"row:{member}")


def test_a_statement_with_every_kind_of_line_is_classified_exactly():
    ours = [
        _ours("E-1", "add", "120.00", 1, reference="EQ-1"),  # matched by our reference echoed back
        _ours("E-2", "delete", "-45.50", 1),  # a refund: the insurer shows it negative too
        _ours("E-3", "add", "99.99", 1),  # one cent off, inside the tolerance
        _ours("E-4", "add", "80.00", 1),  # two cents off: outside
        _ours("E-5", "add", "60.00", 1),  # they date it later and prorate less
        _ours("E-6", "add", "30.00", 1, status="active"),  # they say cancelled
        _ours("E-7", "add", "75.00", 1, reference="EQ-7"),  # confirmed here, absent from the statement
    ]
    theirs = [
        _theirs("E-1", "add", "120.00", 1, reference="EQ-1"),
        _theirs("E-2", "delete", "-45.50", 1),
        _theirs("E-3", "add", "100.00", 1),
        _theirs("E-4", "add", "80.02", 1),
        _theirs("E-5", "add", "40.00", 11),
        _theirs("E-6", "add", "30.00", 1, status="cancelled"),
        _theirs("E-9", "add", "50.00", 1),  # only the insurer has it
        _theirs("E-1", "add", "120.00", 1, reference="EQ-1"),  # the same line twice
    ]

    results = reconcile(ours, theirs, tolerance=Decimal("0.01"))
    by_member = {(r.theirs or r.ours).key[0] + ("#2" if r.outcomes == (Outcome.DUPLICATE,) else ""): r for r in results}  # type: ignore[union-attr]

    assert by_member["E-1"].outcomes == (Outcome.MATCHED,)
    assert by_member["E-2"].outcomes == (Outcome.MATCHED,)
    assert by_member["E-3"].outcomes == (Outcome.MATCHED_WITHIN_TOLERANCE,)
    assert by_member["E-3"].amount_delta == Decimal("0.01")
    assert by_member["E-4"].outcomes == (Outcome.AMOUNT_DELTA,)
    assert by_member["E-4"].amount_delta == Decimal("0.02")
    assert set(by_member["E-5"].outcomes) == {Outcome.AMOUNT_DELTA, Outcome.DATE_DELTA}
    assert (by_member["E-5"].amount_delta, by_member["E-5"].date_delta_days) == (Decimal("-20.00"), 10)
    assert by_member["E-6"].outcomes == (Outcome.STATUS_DELTA,)
    assert by_member["E-9"].outcomes == (Outcome.MISSING_INTERNAL,)
    assert by_member["E-9"].amount_delta == Decimal("50.00")
    assert by_member["E-7"].outcomes == (Outcome.MISSING_AT_COUNTERPARTY,)
    assert by_member["E-7"].amount_delta == Decimal("-75.00")
    assert by_member["E-1#2"].outcomes == (Outcome.DUPLICATE,)
    assert [r.is_break for r in (by_member["E-1"], by_member["E-3"], by_member["E-4"])] == [False, False, True]


def test_every_line_of_both_sides_ends_in_exactly_one_result():
    ours = [_ours(f"E-{i}", "add", f"{i}.00", 1 + i % 28) for i in range(1, 300)]
    theirs = [_theirs(f"E-{i}", "add", f"{i}.00", 1 + (i * 7) % 28) for i in range(150, 450)]
    results = reconcile(ours, theirs)
    assert sorted(id(r.ours) for r in results if r.ours) == sorted(id(line) for line in ours)
    assert sorted(id(r.theirs) for r in results if r.theirs) == sorted(id(line) for line in theirs)


def test_a_reference_wins_over_the_member_key_and_a_date_far_away_is_not_a_match():
    ours = [_ours("E-1", "add", "10.00", 1, reference="EQ-A"), _ours("E-1", "add", "10.00", 2, reference="EQ-B")]
    theirs = [_theirs("E-1", "add", "10.00", 2, reference="EQ-A")]  # their date, our first request
    [first, second] = reconcile(ours, theirs)
    assert first.ours is ours[0]
    assert first.outcomes == (Outcome.DATE_DELTA,)
    assert second.outcomes == (Outcome.MISSING_AT_COUNTERPARTY,)
    far = reconcile([_ours("E-2", "add", "5.00", 1)], [Line(Decimal("5.00"), USD, ("E-2", "add"), D(2026, 6, 1))])
    assert [r.outcomes for r in far] == [(Outcome.MISSING_INTERNAL,), (Outcome.MISSING_AT_COUNTERPARTY,)]
