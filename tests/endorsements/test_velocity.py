"""The velocity circuit breaker: a mass deletion waits for review; a normal month goes through."""

from __future__ import annotations

from collections import Counter

import pytest

from audit.models import AuditEvent
from endorsements.models import Batch, BatchRow, EmployerSafeguards, EndorsementKind, EndorsementRequest, HeldBatch
from endorsements.services import velocity
from endorsements.services.velocity import velocity_check
from endorsements.tasks import batch_process_task
from escrow_project.common.errors import ConflictError
from notifications.models import Notification
from tests.console import confirm
from tests.endorsements.test_api import csv_file
from tests.endorsements.velocity_world import covered_members, history
from tests.factories import operator

ADD, DELETE = EndorsementKind.ADDITION, EndorsementKind.DELETION


def _normal_months(world, members):
    """Three months of ~40 additions and ~25 deletions, each month's file sent on one day."""
    for days_ago in (85, 55, 25):
        history(world, members[:40], kind=ADD, days_ago=days_ago)
        history(world, members[40:65], kind=DELETE, days_ago=days_ago)


def _deletion_lines(members, effective):
    return [f"GP-1001,deletion,{m.member_id},,,,,,{effective}" for m in members]


def _upload(client, lines, django_capture_on_commit_callbacks, name="changes.csv"):
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/endorsements/batch", {"file": csv_file(lines, name=name)}, format="multipart")
    assert response.status_code == 202, response.content
    batch = Batch.objects.get(public_id=response.json()["id"])
    batch_process_task(batch.pk)
    batch.refresh_from_db()
    return batch


def test_a_normal_month_does_not_trip(world):
    members = covered_members(world, 300)
    _normal_months(world, members)
    EmployerSafeguards.objects.create(employer=world.employer, velocity_min_rows=20)

    verdict = velocity_check(employer_id=world.employer.pk, counts=Counter({ADD: 45, DELETE: 28}))

    assert verdict.reasons == []
    assert verdict.figures["addition_day"] == {"with_file": 45, "usual_peak": 40, "limit": 120}
    assert verdict.figures["deletion_day"] == {"with_file": 28, "usual_peak": 25, "limit": 75}
    assert verdict.figures["deletions_of_covered"] == {"deletions": 28, "covered": 300}


def test_far_above_the_usual_pattern_trips_even_without_deleting_much(world):
    members = covered_members(world, 300)
    _normal_months(world, members)
    EmployerSafeguards.objects.create(employer=world.employer, velocity_min_rows=20)

    verdict = velocity_check(employer_id=world.employer.pk, counts=Counter({ADD: 121}))

    assert verdict.tripped
    assert verdict.reasons[0].startswith("121 additions in one hour, against at most 40 in any hour")


def test_a_file_deleting_every_covered_member_is_held_for_review_and_nothing_happens(
    live_world, client_for, django_capture_on_commit_callbacks
):
    from tests.endorsements.conftest import day

    world = live_world
    members = covered_members(world, 12)  # a small employer: under every row minimum but the share

    batch = _upload(client_for(world.hr), _deletion_lines(members, day(5)), django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.HELD
    assert batch.hold_reason == "this file removes 12 of 12 covered members (100%, more than 20%)"
    assert not EndorsementRequest.objects.exists()
    assert not BatchRow.objects.filter(batch=batch).exists()
    held = AuditEvent.objects.get(subject_id=str(world.employer.pk), kind="endorsement.batch_held")
    assert held.payload["reason"] == batch.hold_reason
    told = Notification.objects.filter(recipient_organization=world.employer, kind="endorsement_batch_held")
    assert {n.context["file_name"] for n in told} == {"changes.csv"}
    # The HR user sees it held, not processing.
    status = client_for(world.hr).get(f"/api/v1/endorsements/batches/{batch.public_id}").json()
    assert status["status"] == "held"
    # A sweep or a redelivered task does not process it either.
    batch_process_task(batch.pk)
    assert not EndorsementRequest.objects.exists()


def test_a_released_file_is_processed_and_the_release_is_audited_and_told(
    live_world, client_for, django_capture_on_commit_callbacks
):
    from tests.endorsements.conftest import day

    world = live_world
    members = covered_members(world, 12)
    batch = _upload(client_for(world.hr), _deletion_lines(members, day(5)), django_capture_on_commit_callbacks)
    reviewer = operator()

    with django_capture_on_commit_callbacks(execute=False):
        velocity.batch_release(batch_id=batch.pk, user=reviewer, note="HR confirmed: the office closed")
    batch_process_task(batch.pk)  # what the worker runs once the release commits

    batch.refresh_from_db()
    assert (batch.status, batch.reviewed_by, batch.rows_accepted) == (Batch.Status.COMPLETED, reviewer, 12)
    assert EndorsementRequest.objects.filter(batch=batch, kind=DELETE).count() == 12
    released = AuditEvent.objects.get(subject_id=str(world.employer.pk), kind="endorsement.batch_released")
    assert (released.actor, released.payload["note"]) == (f"user:{reviewer.pk}", "HR confirmed: the office closed")
    told = Notification.objects.filter(recipient_organization=world.employer, kind="endorsement_batch_reviewed")
    assert {n.context["decision"] for n in told} == {"released"}
    with pytest.raises(ConflictError):
        velocity.batch_reject(batch_id=batch.pk, user=reviewer)


def test_a_rejected_file_is_never_processed(live_world, client_for, django_capture_on_commit_callbacks):
    from tests.endorsements.conftest import day

    world = live_world
    members = covered_members(world, 12)
    batch = _upload(client_for(world.hr), _deletion_lines(members, day(5)), django_capture_on_commit_callbacks)
    reviewer = operator()

    with django_capture_on_commit_callbacks(execute=True):
        velocity.batch_reject(batch_id=batch.pk, user=reviewer, note="sent by mistake")
    batch_process_task(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.review_note) == (Batch.Status.REJECTED, "sent by mistake")
    assert not EndorsementRequest.objects.exists()
    assert AuditEvent.objects.filter(kind="endorsement.batch_rejected", actor=f"user:{reviewer.pk}").exists()
    told = Notification.objects.filter(recipient_organization=world.employer, kind="endorsement_batch_reviewed")
    assert {n.context["decision"] for n in told} == {"rejected"}


def test_an_employer_may_switch_the_breaker_off(world):
    covered_members(world, 10)
    EmployerSafeguards.objects.create(employer=world.employer, velocity_enabled=False)
    assert not velocity_check(employer_id=world.employer.pk, counts=Counter({DELETE: 10})).tripped


def test_the_operator_console_releases_a_held_file(live_world, client, client_for, django_capture_on_commit_callbacks):
    from tests.endorsements.conftest import day

    world = live_world
    members = covered_members(world, 12)
    batch = _upload(client_for(world.hr), _deletion_lines(members, day(5)), django_capture_on_commit_callbacks)
    from identity.models import User

    client.force_login(User.objects.create_superuser("velocity-root", "root@example.test", "pw-not-used-elsewhere"))
    listing = client.get("/admin/endorsements/heldbatch/")
    assert listing.status_code == 200
    assert "changes.csv" in listing.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = confirm(client, batch, "release", model=HeldBatch)
    assert response.status_code == 200
    batch.refresh_from_db()
    assert (batch.status, batch.velocity_cleared) == (Batch.Status.QUEUED, True)
