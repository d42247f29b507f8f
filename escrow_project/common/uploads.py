"""Limits on batch files (CSV), checked before anything is stored.

    policy = UploadPolicy.from_settings(max_rows=5_000)
    rows = validate_csv_upload(request.FILES["file"], policy=policy)   # raises UploadRejected

Each refusal is a DomainError with its own code and status, so the API answers problem details:
`upload_too_large` (413), `upload_unsupported_type` (415), `upload_too_many_rows` (422),
`upload_malformed` (422), `upload_missing` (400). Messages name the limit, never the file's content.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from escrow_project.common.errors import DomainError

CSV_CONTENT_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})


class UploadRejected(DomainError):
    status = 422
    code = "upload_rejected"
    title = "The uploaded file was refused"


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int
    max_rows: int
    content_types: frozenset[str] = CSV_CONTENT_TYPES
    extensions: frozenset[str] = field(default_factory=lambda: frozenset({".csv"}))
    required_columns: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, **overrides: Any) -> UploadPolicy:
        base = cls(max_bytes=settings.UPLOAD_MAX_BYTES, max_rows=settings.UPLOAD_MAX_ROWS)
        return replace(base, **overrides)


def reject_oversized_request(meta: dict[str, Any], *, policy: UploadPolicy) -> None:
    """Refuse on the declared Content-Length, before the multipart body is even parsed."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # The multipart envelope adds a little; allow 64 KiB of it.
    if declared > policy.max_bytes + 65_536:
        raise _too_large(policy)


def _too_large(policy: UploadPolicy) -> UploadRejected:
    return UploadRejected(
        f"The file is larger than the limit of {policy.max_bytes} bytes.", code="upload_too_large", status=413
    )


def validate_upload(upload: UploadedFile | None, *, policy: UploadPolicy) -> None:
    """Size, declared type and extension; raises UploadRejected."""
    if upload is None:
        raise UploadRejected("No file was uploaded (multipart field `file`).", code="upload_missing", status=400)
    if upload.size is None or upload.size > policy.max_bytes:
        raise _too_large(policy)
    if upload.size == 0:
        raise UploadRejected("The file is empty.", code="upload_malformed")
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    extension = PurePath(upload.name or "").suffix.lower()
    if content_type not in policy.content_types or extension not in policy.extensions:
        raise UploadRejected(
            f"Only {', '.join(sorted(policy.extensions))} files are accepted "
            f"({', '.join(sorted(policy.content_types))}).",
            code="upload_unsupported_type",
            status=415,
        )


def validate_csv_upload(upload: UploadedFile | None, *, policy: UploadPolicy) -> list[dict[str, str]]:
    """Validate a CSV batch file and return its rows (header = keys); raises UploadRejected."""
    validate_upload(upload, policy=policy)
    assert upload is not None
    upload.seek(0)
    raw = upload.read(policy.max_bytes + 1)
    if len(raw) > policy.max_bytes:  # the declared size lied
        raise _too_large(policy)
    if b"\x00" in raw:
        raise UploadRejected("The file is not a text CSV file.", code="upload_malformed")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRejected("The file is not UTF-8 text.", code="upload_malformed") from None
    rows = _parse_csv(text.splitlines(keepends=True), policy=policy)
    upload.seek(0)
    return rows


def _parse_csv(lines: Iterable[str], *, policy: UploadPolicy) -> list[dict[str, str]]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise UploadRejected("The file has no header row.", code="upload_malformed")
        header = [cell.strip() for cell in header]
        missing = [column for column in policy.required_columns if column not in header]
        if missing:
            raise UploadRejected(f"Missing columns: {', '.join(missing)}.", code="upload_malformed")
        rows: list[dict[str, str]] = []
        for line_number, cells in enumerate(reader, start=2):
            if not cells:
                continue
            if len(rows) >= policy.max_rows:
                raise UploadRejected(f"The file has more than {policy.max_rows} rows.", code="upload_too_many_rows")
            if len(cells) != len(header):
                raise UploadRejected(
                    f"Row {line_number} has {len(cells)} cells; the header has {len(header)}.",
                    code="upload_malformed",
                )
            rows.append(dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        raise UploadRejected(f"The file is not valid CSV ({exc}).", code="upload_malformed") from None
    return rows


def parse_csv_text(text: str, *, policy: UploadPolicy) -> list[dict[str, str]]:
    """The same checks for CSV that arrives as text (an SFTP pickup, a test)."""
    if len(text.encode()) > policy.max_bytes:
        raise _too_large(policy)
    return _parse_csv(io.StringIO(text), policy=policy)
