"""Hostile input on the endorsements API and the insurer webhooks: 4xx problems, nothing written."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from endorsements.models import Batch, BatchRow, EndorsementRequest, InsurerEvent
from endorsements.services import batches
from endorsements.tasks import batch_process_task
from tests.endorsements.conftest import SECRET, addition


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def _signed_post(world, raw: bytes, *, timestamp: str | None = None, signature: str | None = None, batch=True):
    ts = str(int(time.time())) if timestamp is None else timestamp
    if signature is None:
        signature = "v1=" + hmac.new(SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    kind = "batch-notify" if batch else "notify"
    return APIClient().post(
        f"/api/v1/webhooks/insurers/{world.insurer.public_id}/{kind}",
        data=raw,
        content_type="application/json",
        HTTP_X_INSURER_TIMESTAMP=ts,
        HTTP_X_INSURER_SIGNATURE=signature,
    )


@pytest.mark.parametrize("batch", [True, False])
@pytest.mark.parametrize(
    ("timestamp", "signature", "code"),
    [
        ("\xb2", None, "missing_timestamp"),  # "²": str.isdigit() says yes, int() says no
        ("1" * 400, None, "missing_timestamp"),  # too big for a float
        ("9" * 5000, None, "missing_timestamp"),  # past int()'s digit limit
        (None, "v1=\xe9", "missing_signature"),  # compare_digest refuses non-ASCII str
        (None, "v1=" + "a" * 100_000, "missing_signature"),
        (None, ",".join(["v1=00"] * 1000), "invalid_signature"),
    ],
)
def test_garbage_webhook_headers_are_401_problems(world, batch, timestamp, signature, code):
    raw = json.dumps({"events": []}).encode()
    body = _problem(_signed_post(world, raw, timestamp=timestamp, signature=signature, batch=batch), 401)
    assert body["code"] == code
    assert not InsurerEvent.objects.exists()


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"events": [{"event_id": "a\\u0000"}]}', b"NaN"])
def test_a_validly_signed_hostile_body_is_a_422_problem(world, raw):
    body = _problem(_signed_post(world, raw), 422)
    assert body["code"] == "malformed_callback"
    assert not InsurerEvent.objects.exists()


def test_a_lone_surrogate_in_an_endorsement_name_is_a_400_problem(world, client_for):
    raw = json.dumps(addition("E-1", name="\ud800")).encode()  # sent escaped, as JSON allows
    response = client_for(world.hr).post("/api/v1/endorsements/", raw, content_type="application/json")
    assert _problem(response, 400)["code"] == "malformed_request"
    assert not EndorsementRequest.objects.exists()


def test_nul_in_the_rows_csv_filter_is_a_400_problem_not_a_cut_stream(world, client_for):
    batch = Batch.objects.create(employer=world.employer, file_format="csv", file_path="/nonexistent")
    client = client_for(world.hr)
    for suffix in ("rows.csv", "rows"):
        response = client.get(f"/api/v1/endorsements/batches/{batch.public_id}/{suffix}?outcome=%00")
        assert _problem(response, 400)["code"] == "malformed_request"
    assert _problem(client.get("/api/v1/endorsements/?state=%00"), 400)["code"] == "malformed_request"


def test_a_non_ascii_digit_in_an_audit_path_is_a_4xx_problem(world, client_for):
    response = client_for(world.hr).get("/api/v1/audit/employer_endorsements/%C2%B2/events")  # "²"
    assert response.status_code in (403, 404), response.content[:300]
    assert response["Content-Type"] == "application/problem+json"


def _json_file(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("batch.json", content, content_type="application/json")


def test_a_deeply_nested_json_batch_is_refused_at_upload_and_nothing_is_stored(world, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    content = b"[" + b"[" * 200_000 + b"]" * 200_000 + b"]"
    client = client_for(world.hr)
    response = client.post("/api/v1/endorsements/batch", {"file": _json_file(content)}, format="multipart")
    assert _problem(response, 422)["code"] == "upload_malformed"
    assert not Batch.objects.exists()
    assert not list(Path(tmp_path).rglob("*.json"))


def test_a_batch_file_over_the_limit_is_a_413_problem_before_the_body_is_read(world, client_for, settings):
    settings.ENDORSEMENTS_BATCH_MAX_BYTES = 1000
    # The declared length alone decides: the view (and the multipart parser) never run.
    response = client_for(world.hr).post(
        "/api/v1/endorsements/batch",
        {"file": _json_file(b"[]")},
        format="multipart",
        CONTENT_LENGTH=str(1000 + 65_536 + 1),
    )
    assert _problem(response, 413)["code"] == "upload_too_large"
    assert not Batch.objects.exists()


def test_a_json_batch_with_a_too_deep_row_ends_failed_with_a_reason(world, tmp_path):
    # Past the upload check (say, the limit was lowered since): the worker refuses it as it reads.
    path = tmp_path / "b.json"
    path.write_bytes(json.dumps([addition("E-1"), {"x": [[[[[[[[1]]]]]]]]}]).encode())
    batch = Batch.objects.create(employer=world.employer, file_format="json", file_path=str(path))
    from django.test import override_settings

    with override_settings(API_MAX_JSON_DEPTH=4):
        batch_process_task(batch.pk)
    batch = Batch.objects.get(pk=batch.pk)
    assert batch.status == Batch.Status.FAILED
    assert "nested deeper than 4 levels" in batch.error


def test_a_batch_whose_processing_crashes_ends_failed_with_a_reason(world, tmp_path, monkeypatch):
    path = tmp_path / "b.json"
    path.write_bytes(json.dumps([addition("E-1")]).encode())
    batch = Batch.objects.create(employer=world.employer, file_format="json", file_path=str(path))

    def broken(**kwargs):
        raise RuntimeError("a bug in intake")

    monkeypatch.setattr(batches, "endorsements_intake", broken)
    batch_process_task(batch.pk)
    batch = Batch.objects.get(pk=batch.pk)
    assert batch.status == Batch.Status.FAILED
    assert "RuntimeError" in batch.error
    assert not BatchRow.objects.filter(batch=batch).exists()


def test_unstorable_text_in_a_batch_row_is_a_row_error_not_a_crash(world, tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(json.dumps([addition("E-1", name="a\u0000b"), {"bad\u0000key": "x"}]).encode())
    batch = Batch.objects.create(employer=world.employer, file_format="json", file_path=str(path))
    batch_process_task(batch.pk)
    batch = Batch.objects.get(pk=batch.pk)
    assert (batch.status, batch.rows_rejected) == (Batch.Status.COMPLETED, 2)
    codes = {e["code"] for row in BatchRow.objects.filter(batch=batch) for e in row.errors}
    assert {"invalid_text", "unknown_field"} <= codes
