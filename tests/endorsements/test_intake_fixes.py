"""What an HR user notices at upload: the same file twice, unreadable files, row numbers, empty files, messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from endorsements import hooks
from endorsements.models import Batch, BatchRow, EndorsementRequest
from endorsements.services import funding
from endorsements.states import RequestState
from endorsements.tasks import batch_process_task
from notifications.models import Notification
from notifications.rendering import render_message
from tests.endorsements.conftest import addition, day
from tests.endorsements.test_api import CSV_HEADER, csv_file, upload


def _post(client, file):
    return client.post("/api/v1/endorsements/batch", {"file": file}, format="multipart")


def _told(world, kind):
    return list(Notification.objects.filter(recipient_organization=world.employer, kind=kind))


def test_the_same_file_uploaded_twice_answers_with_the_first_batch(live_world, client_for):
    client = client_for(live_world.hr)
    line = f"GP-1001,addition,E-1,Ann Lee,1990-01-01,employee,DAY,,{day(5)}"
    first = _post(client, csv_file([line], name="march.csv"))
    second = _post(client, csv_file([line], name="march-again.csv"))

    assert first.status_code == 202
    assert second.status_code == 200
    assert (second.json()["id"], second.json()["repeated"]) == (first.json()["id"], True)
    assert second.headers["Location"] == first.headers["Location"]
    assert Batch.objects.count() == 1


def test_a_latin1_file_is_refused_at_upload_naming_the_line_and_the_encoding(live_world, client_for):
    content = (CSV_HEADER + f"GP-1001,addition,E-1,Ann Lee,1990-01-01,employee,DAY,,{day(5)}\n").encode()
    content += f"GP-1001,addition,E-2,José Núñez,1990-01-01,employee,DAY,,{day(5)}\n".encode("latin-1")
    response = _post(client_for(live_world.hr), SimpleUploadedFile("hr.csv", content, content_type="text/csv"))

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "upload_unreadable"
    assert "line 3" in body["detail"]  # the header is line 1, the first row line 2
    assert "Latin-1" in body["detail"]
    assert body["errors"][0]["field"] == "file"
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("policy,type,member,name\n", "Missing: kind, member_id"),
        ("policy_number,kind,member_id,colour\n", "Not recognised: colour"),
        ("policy_number;kind;member_id\n", "semicolons"),
    ],
)
def test_a_wrong_header_is_refused_at_upload_naming_the_problem(live_world, client_for, header, named):
    file = SimpleUploadedFile("hr.csv", (header + "a,b,c,d\n").encode(), content_type="text/csv")
    response = _post(client_for(live_world.hr), file)

    assert response.status_code == 422
    assert named in response.json()["detail"]
    assert not Batch.objects.exists()


def test_a_broken_json_file_is_refused_at_upload(live_world, client_for):
    file = SimpleUploadedFile("rows.json", b'[{"kind": "addition"} {"b": 2}]', content_type="application/json")
    response = _post(client_for(live_world.hr), file)
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]
    assert not Batch.objects.exists()


def test_a_header_only_file_completes_with_a_warning_and_says_so(
    live_world, client_for, django_capture_on_commit_callbacks
):
    client = client_for(live_world.hr)
    response, _ = upload(client, csv_file([], name="empty.csv"), django_capture_on_commit_callbacks)

    assert response.json()["rows_total"] == 0
    assert response.json()["warnings"] == [
        "The file has no rows to process (only a header, or nothing): nothing was changed."
    ]
    status = client.get(response.headers["Location"]).json()
    assert status["status"] == "completed"
    assert status["warnings"] == response.json()["warnings"]
    [told] = {n.context["file_name"]: n for n in _told(live_world, "endorsement_batch_finished")}.values()
    message = render_message("endorsement_batch_finished", {**told.context, "url": ""})
    assert "Please note: The file has no rows" in message.text


def test_the_completion_message_names_the_file_and_counts_without_ids(
    live_world, client_for, django_capture_on_commit_callbacks
):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="test")
    lines = [
        f"GP-1001,addition,E-1,Ann One,1990-01-01,employee,DAY,,{day(5)}",
        f"GP-1001,addition,E-2,Bob Two,1990-01-01,employee,GOLD,,{day(5)}",
        f"GP-1001,addition,E-1,Ann One,1990-01-01,employee,DAY,,{day(5)}",
    ]
    _, batch = upload(client_for(world.hr), csv_file(lines, name="april.csv"), django_capture_on_commit_callbacks)

    [row] = BatchRow.objects.filter(batch=batch, outcome="rejected")
    assert row.row_number == 3  # the spreadsheet's line of the GOLD row
    told = _told(world, "endorsement_batch_finished")
    assert told
    message = render_message("endorsement_batch_finished", {**told[0].context, "url": ""})
    assert message.subject == "Your file april.csv: 1 accepted, 1 to fix"
    assert "Accepted: 1" in message.text
    assert "Need fixing: 1" in message.text
    assert "Already sent before (not repeated): 1" in message.text
    assert str(batch.public_id) not in message.subject + message.text
    assert "being validated" not in message.text
    # No per-file "received" message any more carrying the batch's UUID.
    assert not [n for n in _told(world, "endorsement_received") if str(batch.public_id) in str(n.context)]


def test_a_parked_request_woken_by_a_top_up_tells_hr(live_world, client_for):
    world = live_world
    client = client_for(world.hr)
    created = client.post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    assert created.json()["state"] == RequestState.ON_HOLD_FUNDS
    [account] = client.get("/api/v1/ledger/balance").json()["accounts"]
    assert (account["parked"], account["parked_count"]) == ("160.00", 1)
    assert not _told(world, "endorsement_woken")

    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="test")

    assert EndorsementRequest.objects.get().state == RequestState.FUND_LOCKED
    assert {n.context["reference"] for n in _told(world, "endorsement_woken")} == {created.json()["tracking_id"]}
    [account] = client.get("/api/v1/ledger/balance").json()["accounts"]
    assert (Decimal(account["parked"]), account["parked_count"]) == (Decimal(0), 0)


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        ("endorsement.activated", "endorsement_activated"),
        ("endorsement.failed", "endorsement_failed"),
        ("endorsement.dead_letter", "endorsement_dead_lettered"),
    ],
)
def test_activated_failed_and_dead_lettered_requests_tell_hr(live_world, client_for, step, kind):
    world = live_world
    created = client_for(world.hr).post(
        "/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json"
    )
    request = EndorsementRequest.objects.get(tracking_id=created.json()["tracking_id"])
    hooks.requests_step([request], step, actor="test")
    [told] = _told(world, kind)[:1]
    assert told.context["reference"] == request.tracking_id
    assert render_message(kind, {**told.context, "url": ""}).subject


def test_a_batch_process_of_the_stored_file_counts_rows_for_progress(
    live_world, client_for, django_capture_on_commit_callbacks
):
    client = client_for(live_world.hr)
    lines = [f"GP-1001,addition,E-{i},P {i},1990-01-01,employee,DAY,,{day(5)}" for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        response = _post(client, csv_file(lines))
    assert response.json()["progress"] == {
        "rows_done": 0,
        "rows_total": 3,
        "percent": 0,
        "accepted": 0,
        "rejected": 0,
        "duplicate": 0,
    }
    batch_process_task(Batch.objects.get().pk)
    assert client.get(response.headers["Location"]).json()["progress"]["percent"] == 100


def test_the_database_refuses_a_second_batch_of_the_same_file_but_not_older_rows(live_world, tmp_path):
    from django.db import IntegrityError, transaction

    def batch(**fields):
        return Batch.objects.create(employer=live_world.employer, file_format="csv", file_path="/x", **fields)

    # Rows from before whole-file dedupe may hold the same file twice: they carry no file key.
    batch(file_sha256="a" * 64)
    batch(file_sha256="a" * 64)
    batch(file_sha256="b" * 64, file_key="b" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        batch(file_sha256="b" * 64, file_key="b" * 64)
    # A failed upload of a file does not stop a new upload of it.
    Batch.objects.filter(file_key="b" * 64).update(status=Batch.Status.FAILED)
    batch(file_sha256="b" * 64, file_key="b" * 64)
