"""The employer API: single requests, batches, results export, ledger views, isolation."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from endorsements.models import Batch, BatchRow, EndorsementRequest
from endorsements.services import funding
from endorsements.states import RequestState
from endorsements.tasks import batch_process_task
from identity.models import Role
from tests.endorsements.conftest import LIVE_TERM, addition, day, make_world
from tests.factories import member


@pytest.fixture(autouse=True)
def _ledger_invariants(db):
    yield
    from ledger.selectors import invariants_check

    assert invariants_check().ok


CSV_HEADER = "policy_number,kind,member_id,name,date_of_birth,relationship,plan,employee_member_id,effective_date\n"


def csv_file(lines: list[str], name="endorsements.csv") -> SimpleUploadedFile:
    content = (CSV_HEADER + "".join(line + "\n" for line in lines)).encode()
    return SimpleUploadedFile(name, content, content_type="text/csv")


def upload(client, file, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/v1/endorsements/batch", {"file": file}, format="multipart")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1  # the background task is queued only after commit
    batch = Batch.objects.get(public_id=response.json()["id"])
    batch_process_task(batch.pk)  # what the worker runs
    return response, batch


def test_single_endorsement_is_created_funded_and_replayed_with_the_same_key(live_world, client_for):
    world = live_world
    client = client_for(world.hr)
    funding.ea_topup(employer=world.employer, amount="500.00", currency="USD", idempotency_key="t1", actor="test")
    body = addition("E-1", effective=day(5), plan="DAY")
    first = client.post("/api/v1/endorsements/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    data = first.json()
    assert (data["state"], data["amount"], data["direction"]) == ("fund_locked", "160.00", "debit")
    again = client.post("/api/v1/endorsements/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["tracking_id"] == data["tracking_id"]
    assert EndorsementRequest.objects.count() == 1
    got = client.get(f"/api/v1/endorsements/{data['tracking_id']}")
    assert got.status_code == 200
    assert got.json()["tracking_id"] == data["tracking_id"]
    assert got.json()["member_id"] == "E-1"  # the employer's own id, as an insurer's statement names it


def test_an_invalid_endorsement_is_a_422_naming_fields_and_nothing_is_created(live_world, client_for):
    client = client_for(live_world.hr)
    response = client.post("/api/v1/endorsements/", {"kind": "addition", "member_id": "E-1"}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_endorsement"
    assert {"policy_number", "effective_date", "name", "plan"} <= {e["field"] for e in body["errors"]}
    assert not EndorsementRequest.objects.exists()


def test_same_content_via_api_and_csv_is_one_request_and_one_duplicate(
    live_world, client_for, django_capture_on_commit_callbacks
):
    world = live_world
    client = client_for(world.hr)
    funding.ea_topup(employer=world.employer, amount="500.00", currency="USD", idempotency_key="t1", actor="test")
    created = client.post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    assert created.status_code == 201
    line = f"GP-1001,addition,e-1,person e-1,1990-05-17,employee,day,,{day(5)}"
    _, batch = upload(client, csv_file([line]), django_capture_on_commit_callbacks)
    batch.refresh_from_db()
    assert (batch.status, batch.rows_accepted, batch.rows_duplicate) == ("completed", 0, 1)
    row = BatchRow.objects.get(batch=batch)
    assert row.original_tracking_id == created.json()["tracking_id"]
    assert EndorsementRequest.objects.count() == 1
    # And the other way round: the API answers 409 pointing at the original.
    again = client.post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    assert again.status_code == 409
    assert again.json()["errors"][0]["original_tracking_id"] == created.json()["tracking_id"]


def test_a_batch_with_good_and_bad_rows_keeps_the_good_ones(live_world, client_for, django_capture_on_commit_callbacks):
    world = live_world
    client = client_for(world.hr)
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="test")
    lines = [
        f"GP-1001,addition,E-1,Ann One,1990-01-01,employee,DAY,,{day(5)}",
        f"GP-1001,addition,E-2,Bob Two,1990-01-01,employee,GOLD,,{day(5)}",  # unknown plan
        f"GP-1001,addition,E-3,Cy Three,not-a-date,employee,DAY,,{day(5)}",  # bad date of birth
        f"GP-1001,addition,C-1,Kid One,2015-01-01,child,BASIC,E-1,{day(6)}",  # dependant of row 1
        f"GP-1001,addition,E-1,Ann One,1990-01-01,employee,DAY,,{day(5)}",  # duplicate of row 1
        f"GP-1001,deletion,E-9,,,,,,{day(5)}",  # not covered
    ]
    response, batch = upload(client, csv_file(lines), django_capture_on_commit_callbacks)
    status = client.get(response.headers["Location"]).json()
    assert status["status"] == "completed"
    assert status["progress"] == {
        "rows_done": 6,
        "rows_total": 6,
        "percent": 100,
        "accepted": 2,
        "rejected": 3,
        "duplicate": 1,
    }
    rows = client.get(f"/api/v1/endorsements/batches/{batch.public_id}/rows").json()["results"]
    assert [(r["row"], r["outcome"]) for r in rows] == [
        # As the spreadsheet numbers them: the header is row 1.
        (2, "accepted"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "accepted"),
        (6, "duplicate"),
        (7, "rejected"),
    ]
    assert rows[1]["errors"] == [
        {"field": "plan", "code": "unknown_plan", "message": "This plan is not on the policy for this relationship."}
    ]
    assert rows[2]["errors"][0]["field"] == "date_of_birth"
    assert rows[4]["original_tracking_id"] == rows[0]["tracking_id"]
    locked = EndorsementRequest.objects.filter(batch=batch, state=RequestState.FUND_LOCKED).count()
    assert locked == 2  # the accepted rows went on to fund locking


def test_results_csv_is_safe_against_formula_injection(live_world, client_for, django_capture_on_commit_callbacks):
    client = client_for(live_world.hr)
    evil = '=HYPERLINK("http://x")'
    lines = [
        f"GP-1001,addition,E-1,{json.dumps(evil)},1990-01-01,employee,DAY,,{day(5)}",
        f"@SUM(1),addition,E-2,x,1990-01-01,employee,DAY,,{day(5)}",
    ]
    _, batch = upload(client, csv_file(lines), django_capture_on_commit_callbacks)
    response = client.get(f"/api/v1/endorsements/batches/{batch.public_id}/rows.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), cells


def test_json_batches_are_accepted_too(live_world, client_for, django_capture_on_commit_callbacks):
    client = client_for(live_world.hr)
    body = json.dumps([addition("E-1", effective=day(5), plan="DAY"), {"kind": "nonsense"}]).encode()
    _, batch = upload(
        client,
        SimpleUploadedFile("rows.json", body, content_type="application/json"),
        django_capture_on_commit_callbacks,
    )
    batch.refresh_from_db()
    assert (batch.rows_accepted, batch.rows_rejected) == (1, 1)


def test_unsupported_file_types_are_refused_and_nothing_is_stored(live_world, client_for):
    client = client_for(live_world.hr)
    response = client.post(
        "/api/v1/endorsements/batch",
        {"file": SimpleUploadedFile("x.exe", b"MZ...", content_type="application/octet-stream")},
        format="multipart",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unsupported_file_type"
    assert not Batch.objects.exists()


def test_employers_see_only_their_own_data(live_world, client_for, django_capture_on_commit_callbacks):
    world = live_world
    other = make_world(policy_number="GP-2002", term=LIVE_TERM)
    funding.ea_topup(employer=world.employer, amount="500.00", currency="USD", idempotency_key="t1", actor="test")
    mine = client_for(world.hr).post(
        "/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json"
    )
    _, batch = upload(
        client_for(world.hr),
        csv_file([f"GP-1001,addition,E-2,x,1990-01-01,employee,DAY,,{day(5)}"]),
        django_capture_on_commit_callbacks,
    )
    intruder = client_for(other.hr)
    assert intruder.get(f"/api/v1/endorsements/{mine.json()['tracking_id']}").status_code == 404
    assert intruder.get(f"/api/v1/endorsements/batches/{batch.public_id}").status_code == 404
    assert intruder.get(f"/api/v1/endorsements/batches/{batch.public_id}/rows").status_code == 404
    assert intruder.get("/api/v1/endorsements/").json()["count"] == 0
    # Using my policy number from another employer finds no policy.
    response = intruder.post("/api/v1/endorsements/", addition("E-9", effective=day(5), plan="DAY"), format="json")
    assert response.json()["errors"][0]["code"] == "unknown_policy"
    assert intruder.get("/api/v1/ledger/balance").json() == {"accounts": []}
    assert intruder.get("/api/v1/ledger/history?currency=USD").status_code == 404
    # Someone who is not HR of any employer may not submit at all.
    outsider = client_for(member(Role.AGENT))
    assert outsider.post("/api/v1/endorsements/", addition("E-9"), format="json").status_code == 403


def test_ledger_balance_topup_and_history(live_world, client_for):
    world = live_world
    client = client_for(world.hr)
    no_key = client.post("/api/v1/ledger/topup", {"amount": "100.00", "currency": "USD"}, format="json")
    assert no_key.status_code == 400
    assert no_key.json()["code"] == "idempotency_key_required"
    client.post(
        "/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json"
    )  # parked: no funds
    top = client.post(
        "/api/v1/ledger/topup", {"amount": "200.00", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-1"
    )
    assert top.status_code == 202, top.content  # asked, not paid: nothing is credited yet
    assert top.json()["woken"] is None
    assert Decimal(client.get("/api/v1/ledger/balance").json()["accounts"][0]["balance"]) == 0
    again = client.post(
        "/api/v1/ledger/topup", {"amount": "200.00", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-1"
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    secret = top.json()["payment"]["client_secret"]
    guessed = secret[:-1] + ("1" if secret[-1] != "1" else "2")
    forged = client.post("/api/v1/sandbox/payments/pay", {"client_secret": guessed}, format="json")
    assert forged.status_code == 403
    declined = client.post(
        "/api/v1/sandbox/payments/pay", {"client_secret": secret, "card_number": "4000000000000002"}, format="json"
    )
    assert declined.json()["status"] == "failed"
    assert Decimal(client.get("/api/v1/ledger/balance").json()["accounts"][0]["balance"]) == 0
    paid = client.post("/api/v1/sandbox/payments/pay", {"client_secret": secret}, format="json")
    assert paid.json()["status"] == "succeeded"
    [account] = client.get("/api/v1/ledger/balance").json()["accounts"]
    assert (Decimal(account["balance"]), Decimal(account["locked"]), Decimal(account["available"])) == (
        Decimal("200"),
        Decimal("160"),
        Decimal("40"),
    )
    history = client.get("/api/v1/ledger/history?currency=USD")
    assert history.status_code == 200
    assert [Decimal(r["amount"]) for r in history.json()["results"]] == [Decimal("200")]
    bad = client.post(
        "/api/v1/ledger/topup", {"amount": "-5", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-2"
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_amount"


def test_hr_reads_its_own_audit_trail_and_nobody_else_does(live_world, client_for):
    world = live_world
    other = make_world(policy_number="GP-2002", term=LIVE_TERM)
    funding.ea_topup(employer=world.employer, amount="500.00", currency="USD", idempotency_key="t1", actor="test")
    client_for(world.hr).post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    trail = client_for(world.hr).get("/api/v1/endorsements/audit-trail").json()["results"]
    assert [e["kind"] for e in trail] == [
        "endorsement_account.topped_up",
        "endorsement.received",
        "endorsement.fund_locked",
    ]
    assert trail[1]["payload"]["requests"][0]["state"] == "validated"
    assert client_for(other.hr).get("/api/v1/endorsements/audit-trail").json()["count"] == 0


def test_a_batch_whose_task_was_lost_is_picked_up_by_the_sweeper(
    live_world, client_for, django_capture_on_commit_callbacks
):
    import datetime

    from endorsements.services import batches
    from escrow_project.celery import app as celery_app

    client = client_for(live_world.hr)
    funding.ea_topup(employer=live_world.employer, amount="500.00", currency="USD", idempotency_key="t1", actor="t")
    with django_capture_on_commit_callbacks(execute=False):  # the broker never got the task
        response = client.post(
            "/api/v1/endorsements/batch",
            {"file": csv_file([f"GP-1001,addition,E-1,Ann Lee,1990-01-01,employee,DAY,,{day(5)}"])},
            format="multipart",
        )
    batch = Batch.objects.get(public_id=response.json()["id"])
    assert batch.status == Batch.Status.QUEUED
    assert batches.batches_sweep() == 0  # too young: its task may still be on its way

    Batch.objects.filter(pk=batch.pk).update(created_at=batch.created_at - datetime.timedelta(minutes=6))
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the hand-over runs here, as a worker would run it
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert batches.batches_sweep() == 1
    finally:
        celery_app.conf.task_always_eager = eager
    batch = Batch.objects.get(pk=batch.pk)
    assert (batch.status, batch.rows_accepted) == (Batch.Status.COMPLETED, 1)
    assert batches.batches_sweep() == 0
