"""Batch uploads: an oversized or malformed file is refused, with a clear problem, before it is stored.

The validator is exercised through a small DRF view defined here (no batch endpoint exists yet),
which stores the file only after validation, as real endpoints must.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import path
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.uploads import (
    UploadPolicy,
    UploadRejected,
    parse_csv_text,
    reject_oversized_request,
    validate_csv_upload,
)
from tests.factories import member

HEADER = "employee_id,name,coverage\n"


class BatchUploadView(APIView):
    parser_classes = [MultiPartParser]

    def post(self, request: Request) -> Response:
        policy = UploadPolicy.from_settings(max_rows=5, required_columns=("employee_id", "coverage"))
        reject_oversized_request(request.META, policy=policy)  # before the body is parsed
        upload = request.FILES.get("file")
        rows = validate_csv_upload(upload, policy=policy)
        assert upload is not None
        stored = default_storage.save(f"batches/{uuid.uuid4()}.csv", upload)
        return Response({"rows": len(rows), "stored_as": stored}, status=status.HTTP_201_CREATED)


urlpatterns = [path("api/v1/test-batch-upload/", BatchUploadView.as_view())]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.UPLOAD_MAX_BYTES = 2048
    return tmp_path


def _stored(media: Path) -> list[Path]:
    return sorted((media / "batches").glob("*")) if (media / "batches").exists() else []


def _post(client_for, upload: SimpleUploadedFile | None):
    client = client_for(member())
    data = {"file": upload} if upload is not None else {"note": "no file"}
    return client.post("/api/v1/test-batch-upload/", data, format="multipart")


def _csv(body: str | bytes, name: str = "batch.csv", content_type: str = "text/csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body.encode() if isinstance(body, str) else body, content_type=content_type)


def test_a_valid_file_is_stored(client_for, media):
    response = _post(client_for, _csv(HEADER + "E1,Ann,basic\nE2,Bob,family\n"))
    assert response.status_code == 201, response.json()
    assert response.json()["rows"] == 2
    assert len(_stored(media)) == 1


@pytest.mark.parametrize(
    ("upload", "status_code", "code"),
    [
        (_csv(HEADER + "E1,Ann,basic\n" * 200), 413, "upload_too_large"),  # 4 KB against a 2 KB limit
        (_csv(HEADER + "E1,Ann,basic\n" * 6000), 413, "upload_too_large"),  # refused on Content-Length alone
        (_csv(HEADER + "".join(f"E{n},N,basic\n" for n in range(6))), 422, "upload_too_many_rows"),
        (_csv(b"PK\x03\x04\x00\x00binary"), 422, "upload_malformed"),
        (_csv(b"employee_id,name,coverage\nE1,\xff\xfe,basic\n"), 422, "upload_malformed"),
        (_csv(HEADER + "E1,Ann\n"), 422, "upload_malformed"),
        (_csv(HEADER + 'E1,"Ann,basic\n'), 422, "upload_malformed"),
        (_csv("employee_id,name\nE1,Ann\n"), 422, "upload_malformed"),
        (_csv(""), 422, "upload_malformed"),
        (_csv(HEADER + "E1,Ann,basic\n", name="batch.xlsx"), 415, "upload_unsupported_type"),
        (_csv(HEADER + "E1,Ann,basic\n", content_type="application/pdf"), 415, "upload_unsupported_type"),
        (None, 400, "upload_missing"),
    ],
    ids=[
        "oversized",
        "oversized-content-length",
        "too-many-rows",
        "binary",
        "not-utf8",
        "ragged-row",
        "unterminated-quote",
        "missing-column",
        "empty",
        "wrong-extension",
        "wrong-content-type",
        "no-file",
    ],
)
def test_a_bad_file_is_refused_before_it_is_stored(client_for, media, upload, status_code, code):
    response = _post(client_for, upload)
    assert response.status_code == status_code
    body = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert body["code"] == code
    assert body["detail"]  # a clear, specific message
    assert "Ann" not in body["detail"]  # and it never quotes the file's content
    assert _stored(media) == []


def test_text_batches_get_the_same_checks():
    policy = UploadPolicy(max_bytes=100, max_rows=1)
    assert parse_csv_text("a,b\n1,2\n", policy=policy) == [{"a": "1", "b": "2"}]
    with pytest.raises(UploadRejected) as excinfo:
        parse_csv_text("a,b\n1,2\n3,4\n", policy=policy)
    assert excinfo.value.code == "upload_too_many_rows"
