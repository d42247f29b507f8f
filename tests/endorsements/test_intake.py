"""Validation, business rules and duplicate detection (shared by the API and files)."""

from __future__ import annotations

from decimal import Decimal

from endorsements.models import BatchRow, EndorsementRequest, Member
from endorsements.services.intake import endorsements_intake
from endorsements.states import RequestState
from tests.endorsements.conftest import TODAY, addition


def intake(world, *rows, source="api"):
    return endorsements_intake(employer=world.employer, rows=list(enumerate(rows, start=1)), source=source, today=TODAY)


def test_an_addition_is_accepted_priced_and_tracked(world):
    [outcome] = intake(world, addition("E-1", effective="2026-03-02"))
    assert outcome.outcome == "accepted"
    request = EndorsementRequest.objects.get(tracking_id=outcome.tracking_id)
    assert request.state == RequestState.VALIDATED
    assert request.direction == "debit"
    # 1200 x (31 Dec - 2 Mar + 1 = 305) / 365 = 1002.739... -> 1002.74
    assert request.amount == Decimal("1002.74")
    member = request.member
    assert member.status == Member.Status.PENDING
    assert member.member_id == "E-1"
    assert member.person_name == "Person E-1"
    assert outcome.tracking_id.startswith("END-")


def test_schema_errors_name_each_field_and_create_nothing(world):
    [outcome] = intake(world, {"kind": "addition", "member_id": "bad id!", "effective_date": "2026-02-30", "x": "1"})
    assert outcome.outcome == "rejected"
    fields = {(e["field"], e["code"]) for e in outcome.errors}
    assert ("member_id", "invalid_format") in fields
    assert ("effective_date", "invalid_date") in fields
    assert ("x", "unknown_field") in fields
    assert ("policy_number", "required") in fields
    assert ("name", "required") in fields
    assert not EndorsementRequest.objects.exists()
    assert not Member.objects.exists()


def test_business_rules(world):
    world.profile.backdate_window_days = 30
    world.profile.save()
    intake(world, addition("E-1"))
    outcomes = intake(
        world,
        addition("E-1", effective="2026-03-05"),  # already being added
        addition("E-2", effective="2027-01-05"),  # outside the term
        addition("E-3", effective="2026-01-01"),  # backdated beyond the insurer's 30 days
        addition("E-4", plan="GOLD"),  # unknown plan
        addition("D-1", relationship="child", employee_member_id="NOBODY"),  # no such employee
        {"policy_number": "GP-1001", "kind": "deletion", "member_id": "E-9", "effective_date": "2026-03-01"},
        addition("E-5", policy_number="GP-OTHER"),
    )
    codes = [(o.outcome, [e["code"] for e in o.errors]) for o in outcomes]
    assert codes == [
        ("rejected", ["already_covered"]),
        ("rejected", ["outside_term", "too_far_ahead"]),
        ("rejected", ["backdated_too_far"]),
        ("rejected", ["unknown_plan"]),
        ("rejected", ["employee_not_covered"]),
        ("rejected", ["not_covered"]),
        ("rejected", ["unknown_policy"]),
    ]
    assert EndorsementRequest.objects.count() == 1


def test_effective_date_too_far_ahead_is_refused(world):
    world.policy.term_end = world.policy.term_end.replace(year=2027)
    world.policy.save()
    [outcome] = intake(world, addition("E-1", effective="2026-07-01"))
    assert [e["code"] for e in outcome.errors] == ["too_far_ahead"]


def test_a_dependant_attaches_to_an_employee_added_in_the_same_file(world):
    outcomes = intake(
        world,
        addition("D-1", relationship="child", employee_member_id="E-1"),
        addition("E-1"),
        source="file",
    )
    # The child row comes first, before its employee exists: refused; the employee is accepted.
    assert [o.outcome for o in outcomes] == ["rejected", "accepted"]
    outcomes = intake(world, addition("D-1", relationship="child", employee_member_id="e-1"))
    assert outcomes[0].outcome == "accepted"
    child = Member.objects.get(relationship="child")
    assert child.employee is not None
    assert child.employee.member_id == "E-1"


def test_the_same_content_twice_is_one_request_and_one_duplicate_pointing_at_it(world):
    [first] = intake(world, addition("E-1"))
    # Different case and spacing, same endorsement.
    [second] = intake(world, addition("e-1", name="  PERSON   e-1 ", plan="basic"), source="file")
    assert second.outcome == BatchRow.Outcome.DUPLICATE
    assert second.original_tracking_id == first.tracking_id
    assert EndorsementRequest.objects.count() == 1


def test_duplicates_inside_one_chunk_are_caught(world):
    outcomes = intake(world, addition("E-1"), addition("E-1"))
    assert [o.outcome for o in outcomes] == ["accepted", "duplicate"]
    assert outcomes[1].original_tracking_id == outcomes[0].tracking_id


def test_deletion_and_modification_of_a_covered_member(world):
    [added] = intake(world, addition("E-1"))
    Member.objects.filter(pk=added.request.member_id).update(status=Member.Status.COVERED)
    EndorsementRequest.objects.filter(pk=added.request.pk).update(state=RequestState.ACTIVE)
    [modified] = intake(
        world,
        {
            "policy_number": "GP-1001",
            "kind": "modification",
            "member_id": "E-1",
            "new_plan": "PLUS",
            "effective_date": "2026-04-01",
        },
    )
    # (1825 - 1200) x 275 / 365 = 470.890... -> 470.89 debit
    assert modified.outcome == "accepted"
    assert (modified.request.direction, modified.request.amount) == ("debit", Decimal("470.89"))
    [blocked] = intake(
        world, {"policy_number": "GP-1001", "kind": "deletion", "member_id": "E-1", "effective_date": "2026-04-30"}
    )
    assert [e["code"] for e in blocked.errors] == ["request_in_progress"]


def test_deletion_credit_is_zero_for_a_member_with_a_claim(world):
    [added] = intake(world, addition("E-1"))
    Member.objects.filter(pk=added.request.member_id).update(status=Member.Status.COVERED, claim_in_term=True)
    EndorsementRequest.objects.filter(pk=added.request.pk).update(state=RequestState.ACTIVE)
    [deleted] = intake(
        world, {"policy_number": "GP-1001", "kind": "deletion", "member_id": "E-1", "effective_date": "2026-04-30"}
    )
    assert (deleted.request.direction, deleted.request.amount) == ("credit", Decimal("0.00"))
