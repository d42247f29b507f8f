"""Batch files: stored on arrival, processed later in chunks, resumable after a crash."""

from __future__ import annotations

import datetime
import hashlib
import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from endorsements import hooks, metrics
from endorsements.files import FileFormatError, file_survey, iter_csv, iter_json, iter_x12
from endorsements.models import Batch, BatchRow, GroupPolicy
from endorsements.services.funding import ea_drain, ea_lock
from endorsements.services.intake import endorsements_intake
from endorsements.services.velocity import batch_velocity_hold
from endorsements.states import RequestState
from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import NotFoundError, UnprocessableError
from escrow_project.common.input_guard import InputRefused, check_json_depth, max_json_depth
from identity.models import Organization, User

logger = structlog.get_logger(__name__)

CHUNK_ROWS = 1000  # rows per transaction: 500 -> 1000 took a 100,000-row file from ~118 to ~111 s (docs/benchmarks)
# A task hands over to a fresh task after this many rows so no single task nears its time limit.
ROWS_PER_TASK = 20_000


def _batch_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "endorsements" / "batches"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_format_of(upload: UploadedFile) -> str:
    name = (upload.name or "").lower()
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if name.endswith(".csv") or content_type in ("text/csv", "application/csv"):
        return Batch.Format.CSV
    if name.endswith((".json", ".jsonl", ".ndjson")) or content_type in (
        "application/json",
        "application/x-ndjson",
        "application/jsonl",
    ):
        return Batch.Format.JSON
    if name.endswith((".x12", ".834", ".edi")) or content_type in ("application/edi-x12", "application/x12"):
        return Batch.Format.X12
    raise UnprocessableError(
        "Upload a CSV (.csv, text/csv), JSON (.json, application/json) or X12 834 (.x12, .834, .edi) file.",
        code="unsupported_file_type",
    )


@dataclass(frozen=True)
class BatchUpload:
    batch: Batch
    repeated: bool  # the same file was uploaded before: `batch` is the first upload's batch


def _refuse_unreadable(path: Path, file_format: str) -> int:
    try:
        return file_survey(str(path), file_format)
    except FileFormatError as exc:
        path.unlink(missing_ok=True)
        raise UnprocessableError(
            str(exc),
            code="upload_unreadable",
            errors=[{"field": "file", "code": "unreadable", "message": str(exc)}],
        ) from None


def batch_upload(*, employer: Organization, user: User | None, upload: UploadedFile) -> BatchUpload:
    """Store the uploaded file (streamed to disk), check it as a whole, and queue it for processing.

    A file this employer already sent (same SHA-256, not failed) is not processed twice: the answer
    is the first batch. A file whose encoding, header or structure is wrong is refused here (422),
    before anything is accepted.
    """
    file_format = file_format_of(upload)
    max_bytes = settings.ENDORSEMENTS_BATCH_MAX_BYTES
    if upload.size is not None and upload.size > max_bytes:
        # Normally refused on Content-Length before the body is read (BatchUploadView.max_request_bytes).
        raise UnprocessableError(f"The file is larger than {max_bytes} bytes.", code="upload_too_large", status=413)
    if not upload.size:
        raise UnprocessableError("The file is empty.", code="empty_file")
    public_id = uuid.uuid4()
    path = _batch_dir() / f"{public_id}.{file_format}"
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    sha256 = digest.hexdigest()
    earlier = _same_file(employer, sha256)
    if earlier is not None:
        path.unlink(missing_ok=True)
        return BatchUpload(batch=earlier, repeated=True)
    if file_format == Batch.Format.JSON:
        _refuse_deep_json(path)
    rows_total = _refuse_unreadable(path, file_format)
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                public_id=public_id,
                employer=employer,
                submitted_by=user,
                file_format=file_format,
                file_name=(upload.name or "")[:255],
                file_path=str(path),
                file_sha256=sha256,
                file_key=sha256,
                file_size=size,
                rows_total=rows_total,
                warnings=[] if rows_total else [NO_ROWS_WARNING],
            )
            from endorsements.tasks import batch_process_task

            enqueue_on_commit(batch_process_task, batch.pk)
    except IntegrityError:
        # The same file uploaded twice at once: the other upload's batch won the constraint.
        path.unlink(missing_ok=True)
        earlier = _same_file(employer, sha256)
        if earlier is None:
            raise
        return BatchUpload(batch=earlier, repeated=True)
    logger.info("endorsement_batch_created", batch=str(batch.public_id), size=size, rows=rows_total)
    return BatchUpload(batch=batch, repeated=False)


NO_ROWS_WARNING = "The file has no rows to process (only a header, or nothing): nothing was changed."


def _same_file(employer: Organization, sha256: str) -> Batch | None:
    return (
        Batch.objects.filter(employer=employer, file_sha256=sha256)
        .exclude(status=Batch.Status.FAILED)
        .order_by("created_at")
        .first()
    )


def batch_create(*, employer: Organization, user: User | None, upload: UploadedFile) -> Batch:
    """The batch for an upload (the first one's, when the same file was sent before)."""
    return batch_upload(employer=employer, user=user, upload=upload).batch


BATCH_SWEEP_AFTER = datetime.timedelta(minutes=5)


def batches_sweep(*, older_than: datetime.timedelta = BATCH_SWEEP_AFTER) -> int:
    """Hand every unfinished batch older than `older_than` to a worker again: its task may have been
    lost (broker down at upload, a worker killed mid-chunk). A second run of a batch that is still
    being processed is harmless: chunks commit under the batch's lock and resume after `rows_done`."""
    from endorsements.tasks import batch_process_task

    cutoff = timezone.now() - older_than
    stuck = list(
        Batch.objects.filter(status__in=[Batch.Status.QUEUED, Batch.Status.PROCESSING], created_at__lt=cutoff)
        .values_list("pk", flat=True)
        .order_by("pk")[:500]
    )
    for batch_id in stuck:
        enqueue_on_commit(batch_process_task, batch_id)
    if stuck:
        logger.info("endorsement_batches_swept", count=len(stuck))
    return len(stuck)


def _refuse_deep_json(path: Path) -> None:
    """Refuse at upload, not in the worker, a file nested deeper than any endorsement can be."""
    try:
        with path.open("rb") as handle:
            # One level more than a row may have: the file's own top-level array.
            check_json_depth(handle, max_depth=max_json_depth() + 1)
    except InputRefused as exc:
        path.unlink(missing_ok=True)
        raise UnprocessableError(f"The file is refused: {exc}", code="upload_malformed") from None


def _rows(batch: Batch, handle: IO[bytes]) -> Iterator[tuple[int, Any]]:
    if batch.file_format == Batch.Format.CSV:
        return iter_csv(handle)
    if batch.file_format == Batch.Format.X12:
        return iter_x12(handle)
    return iter_json(handle)


def batch_process(*, batch_id: int, max_rows: int | None = ROWS_PER_TASK) -> bool:
    """Process the next rows of a batch; returns True when the whole file is done.

    Each chunk commits its requests, their fund locks, row results and counters together, so a
    crash loses no accepted row and a rerun resumes after the last committed row.
    """
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("No such batch.", code="batch_not_found")
    if batch.status in (Batch.Status.COMPLETED, Batch.Status.FAILED, Batch.Status.HELD, Batch.Status.REJECTED):
        return True
    if batch.started_at is None and batch_velocity_hold(batch_id=batch.pk):
        return True  # waits for an operator's review; releasing it queues it again
    if batch.started_at is None:
        Batch.objects.filter(pk=batch.pk, started_at__isnull=True, status=Batch.Status.QUEUED).update(
            started_at=timezone.now(), status=Batch.Status.PROCESSING
        )
        if Batch.objects.filter(pk=batch.pk, status=Batch.Status.HELD).exists():
            return True  # a concurrent run held it
    processed = 0
    try:
        with open(batch.file_path, "rb") as handle:
            rows = (r for r in _rows(batch, handle) if r[0] > batch.rows_done)
            while True:
                chunk = list(itertools.islice(rows, CHUNK_ROWS))
                if not chunk:
                    break
                started = time.perf_counter()
                if not _chunk_commit(batch_id=batch.pk, chunk=chunk):
                    return False  # another worker is on it
                metrics.BATCH_ROWS_SECONDS.observe(time.perf_counter() - started)
                batch.refresh_from_db()
                processed += len(chunk)
                if max_rows is not None and processed >= max_rows:
                    return False
    except FileFormatError as exc:
        _batch_finish(batch_id=batch.pk, error=str(exc))
        return True
    except (OperationalError, InterfaceError):
        raise  # the database is away: the task is redelivered and resumes after the last committed row
    except Exception as exc:  # any other failure ends the batch, never leaves it "processing"
        logger.exception("endorsement_batch_crashed", batch=str(batch.public_id))
        _batch_finish(
            batch_id=batch.pk,
            error=f"Processing stopped after row {batch.rows_done} ({type(exc).__name__}); rows before it are kept.",
        )
        return True
    _batch_finish(batch_id=batch.pk, error="")
    return True


@transaction.atomic
def _chunk_commit(*, batch_id: int, chunk: list[tuple[int, Any]]) -> bool:
    # Lock order of every funding path: the employer's EA rows first (the chunk locks funds for
    # its own requests), then the batch, then the policies.
    employer_id = Batch.objects.values_list("employer_id", flat=True).get(pk=batch_id)
    currencies = sorted(
        set(GroupPolicy.objects.filter(employer_id=employer_id, is_active=True).values_list("currency", flat=True))
    )
    accounts = {c: ea_lock(employer_id=employer_id, currency=c) for c in currencies}
    batch = Batch.objects.select_for_update(no_key=True).select_related("employer").get(pk=batch_id)
    fresh = [(n, row) for n, row in chunk if n > batch.rows_done]
    if not fresh:
        return True
    if fresh[0][0] != chunk[0][0]:
        return False  # a concurrent run already committed part of this chunk: let it finish
    outcomes = endorsements_intake(employer=batch.employer, rows=fresh, source="file", batch=batch, accounts=accounts)
    # Rows that found others waiting in the EA's queue were left VALIDATED: they take their place
    # in it now, in this transaction (the EA locks are still ours).
    waiting = {o.request.currency for o in outcomes if o.request and o.request.state == RequestState.VALIDATED}
    for currency in sorted(waiting):
        ea_drain(employer_id=employer_id, currency=currency, actor="intake:file")
    batch.rows_done = fresh[-1][0]
    batch.rows_accepted += sum(o.outcome == BatchRow.Outcome.ACCEPTED for o in outcomes)
    batch.rows_rejected += sum(o.outcome == BatchRow.Outcome.REJECTED for o in outcomes)
    batch.rows_duplicate += sum(o.outcome == BatchRow.Outcome.DUPLICATE for o in outcomes)
    batch.save(update_fields=["rows_done", "rows_accepted", "rows_rejected", "rows_duplicate"])
    return True


@transaction.atomic
def _batch_finish(*, batch_id: int, error: str) -> None:
    batch = Batch.objects.select_for_update(no_key=True).select_related("employer").get(pk=batch_id)
    if batch.status not in (Batch.Status.QUEUED, Batch.Status.PROCESSING):
        return  # finished already, or held / rejected by a review meanwhile: that outcome stands
    # A file that breaks half-way keeps the rows committed before the break (never lost).
    batch.finish(error)
    warning = ""
    if not error and not batch.rows_processed:
        warning = NO_ROWS_WARNING
        if warning not in batch.warnings:
            batch.warnings = [*batch.warnings, warning]
    batch.save(update_fields=["status", "error", "finished_at", "warnings"])
    hooks.batch_finished(batch=batch, warning=warning)
    logger.info("endorsement_batch_finished", batch=str(batch.public_id), status=batch.status)
