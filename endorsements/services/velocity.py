"""The velocity circuit breaker: a file far above the employer's own recent pattern waits for review.

A file is compared with what this employer itself usually sends, not with a global limit: the
busiest hour and the busiest day of its lookback period (the last 24 hours left out, so a burst
cannot raise its own bar). A file that would remove a large share of the covered members is held
whatever the history says. A held file has done nothing: no request, no hold, no row result.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from endorsements import hooks
from endorsements.files import FileFormatError, iter_json, iter_x12
from endorsements.models import (
    Batch,
    EmployerSafeguards,
    EndorsementKind,
    EndorsementRequest,
    Member,
)
from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import ConflictError, NotFoundError
from identity.models import User

logger = structlog.get_logger(__name__)

WATCHED_KINDS = (EndorsementKind.ADDITION, EndorsementKind.DELETION)
_PLURAL = {EndorsementKind.ADDITION: "additions", EndorsementKind.DELETION: "deletions"}


def safeguards_for(employer_id: int) -> EmployerSafeguards:
    """The employer's thresholds, or the defaults when it has none of its own."""
    found = EmployerSafeguards.objects.filter(employer_id=employer_id).first()
    return found if found is not None else EmployerSafeguards(employer_id=employer_id)


@dataclass
class VelocityVerdict:
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def tripped(self) -> bool:
        return bool(self.reasons)


def file_kind_counts(batch: Batch) -> Counter[str]:
    """How many additions, deletions and modifications the stored file asks for (rows as written)."""
    counts: Counter[str] = Counter()
    with open(batch.file_path, "rb") as handle:
        if batch.file_format == Batch.Format.CSV:
            return _csv_kind_counts(handle)
        if batch.file_format == Batch.Format.X12:
            rows: Any = iter_x12(handle)
        else:
            rows = iter_json(handle)
        for _, row in rows:
            kind = row.get("kind") if isinstance(row, dict) else None
            counts[str(kind).strip().lower() if kind else ""] += 1
    return counts


def _csv_kind_counts(binary: Any) -> Counter[str]:
    # Only the kind column, without building each row (the check runs before every file).
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        names = [h.strip().lower() for h in next(reader, [])]
        if "kind" not in names:
            raise FileFormatError("The CSV header has no kind column.")
        at = names.index("kind")
        return Counter(
            values[at].strip().lower() if at < len(values) else ""
            for values in reader
            if any(v.strip() for v in values)
        )
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileFormatError(f"The CSV cannot be read: {exc}.") from None


def _peak(employer_id: int, kind: str, trunc: Any, since: datetime.datetime, until: datetime.datetime) -> int:
    per_bucket = (
        EndorsementRequest.objects.filter(
            employer_id=employer_id, kind=kind, created_at__gte=since, created_at__lt=until
        )
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(n=Count("pk"))
    )
    return int(per_bucket.aggregate(peak=Max("n"))["peak"] or 0)


def _recent(employer_id: int, kind: str, since: datetime.datetime) -> int:
    return EndorsementRequest.objects.filter(employer_id=employer_id, kind=kind, created_at__gte=since).count()


def velocity_check(*, employer_id: int, counts: Counter[str], now: datetime.datetime | None = None) -> VelocityVerdict:
    """Whether intake of `counts` now is far above this employer's own recent pattern."""
    now = now or timezone.now()
    limits = safeguards_for(employer_id)
    verdict = VelocityVerdict()
    if not limits.velocity_enabled:
        verdict.figures["disabled"] = True
        return verdict
    baseline_until = now - datetime.timedelta(hours=24)
    baseline_since = now - datetime.timedelta(days=limits.velocity_lookback_days)
    for kind in WATCHED_KINDS:
        in_file = counts.get(kind, 0)
        if not in_file:
            continue
        for window, hours, trunc in (("hour", 1, TruncHour("created_at")), ("day", 24, TruncDate("created_at"))):
            peak = _peak(employer_id, kind, trunc, baseline_since, baseline_until)
            with_file = _recent(employer_id, kind, now - datetime.timedelta(hours=hours)) + in_file
            limit = max(limits.velocity_min_rows, limits.velocity_multiplier * peak)
            verdict.figures[f"{kind}_{window}"] = {"with_file": with_file, "usual_peak": peak, "limit": limit}
            if with_file > limit:
                verdict.reasons.append(
                    f"{with_file} {_PLURAL[kind]} in one {window}, against at most {peak} in any {window} of the "
                    f"last {limits.velocity_lookback_days} days (limit {limit})"
                )
                break  # the day would say the same again
    deletions = counts.get(EndorsementKind.DELETION, 0)
    if deletions >= limits.deletion_share_min_rows:
        covered = Member.objects.filter(
            policy__employer_id=employer_id, policy__is_active=True, status=Member.Status.COVERED
        ).count()
        verdict.figures["deletions_of_covered"] = {"deletions": deletions, "covered": covered}
        if deletions * 100 > limits.deletion_share_percent * covered:
            share = deletions * 100 // covered if covered else 100
            verdict.reasons.append(
                f"this file removes {deletions} of {covered} covered members ({share}%, more than "
                f"{limits.deletion_share_percent}%)"
            )
    return verdict


def batch_velocity_hold(*, batch_id: int) -> bool:
    """Check a queued file before any of it is processed; hold it for review when it trips.

    Returns True when the file is held (the caller then stops). An unreadable file is left to the
    processing, which fails it with its reason.
    """
    batch = Batch.objects.select_related("employer").get(pk=batch_id)
    if batch.velocity_cleared or batch.status != Batch.Status.QUEUED:
        return False
    try:
        counts = file_kind_counts(batch)
    except (FileFormatError, OSError):
        return False  # the processing fails it with its reason
    verdict = velocity_check(employer_id=batch.employer_id, counts=counts)
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).select_related("employer").get(pk=batch_id)
        if locked.status != Batch.Status.QUEUED or locked.velocity_cleared:
            return locked.status == Batch.Status.HELD
        locked.velocity = {"file": dict(counts), **verdict.figures}
        if not verdict.tripped:
            locked.velocity_cleared = True
            locked.save(update_fields=["velocity", "velocity_cleared"])
            return False
        locked.hold("; ".join(verdict.reasons))
        locked.save(update_fields=["velocity", "status", "hold_reason"])
        hooks.batch_held(batch=locked, reason=locked.hold_reason)
    logger.warning("endorsement_batch_held", batch=str(batch.public_id), reason=locked.hold_reason)
    return True


def _held(batch_id: int) -> Batch:
    batch = Batch.objects.select_for_update(no_key=True).select_related("employer").filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("No such batch.", code="batch_not_found")
    if batch.status != Batch.Status.HELD:
        raise ConflictError(
            f"Only a held file can be reviewed; this one is {batch.get_status_display().lower()}.",
            code="batch_not_held",
        )
    return batch


@transaction.atomic
def batch_release(*, batch_id: int, user: User, note: str = "") -> Batch:
    """An operator checked a held file with the employer: it is processed as it is, not checked again."""
    from endorsements.tasks import batch_process_task

    batch = _held(batch_id)
    batch.release(by=user, note=note)
    batch.save(update_fields=["status", "velocity_cleared", "reviewed_by", "reviewed_at", "review_note"])
    hooks.batch_reviewed(batch=batch, decision="released", actor=f"user:{user.pk}", note=batch.review_note)
    enqueue_on_commit(batch_process_task, batch.pk)
    return batch


@transaction.atomic
def batch_reject(*, batch_id: int, user: User, note: str = "") -> Batch:
    """An operator refused a held file: nothing in it is ever processed (the employer may send a corrected one)."""
    batch = _held(batch_id)
    batch.reject(by=user, note=note)
    batch.save(update_fields=["status", "reviewed_by", "reviewed_at", "finished_at", "review_note"])
    hooks.batch_reviewed(batch=batch, decision="rejected", actor=f"user:{user.pk}", note=batch.review_note)
    return batch
