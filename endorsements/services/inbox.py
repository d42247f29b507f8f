"""The insurer's SFTP outbox: 999 acknowledgements and result files, each applied exactly once.

A file is recorded (InboundFile, unique per insurer and name) in the same transaction that applies
it, so a second poll, or two polls at once, cannot apply it twice. A file that cannot be read goes
to the dead letter with its content kept for an operator; it is never retried by itself.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
import time
from typing import Any

import structlog
from django.db import IntegrityError, transaction

from endorsements import metrics, x12
from endorsements.gateway import GatewayConfigError, gateway_for
from endorsements.gateway.base import exchange_record
from endorsements.gateway.sftp import SftpGateway
from endorsements.models import Dispatch, EndorsementRequest, InboundFile, InsurerProfile
from endorsements.services.callbacks import insurer_events_apply
from endorsements.services.reconciliation import insurer_statement_import
from endorsements.states import RequestState
from escrow_project.common.errors import DomainError
from identity.models import Organization

logger = structlog.get_logger(__name__)

RESULT_COLUMNS = {"reference", "tracking_id", "status", "reason_code", "reason", "insurer_reference"}


class InboundFileError(ValueError):
    """The file is not what it claims to be (or names a delivery we never made)."""


STATEMENT_NAME = re.compile(r"^statement_(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\.csv$", re.IGNORECASE)


def _kind(name: str) -> str:
    if STATEMENT_NAME.match(name):
        return InboundFile.Kind.STATEMENT
    return InboundFile.Kind.ACK_999 if name.lower().endswith(".999") else InboundFile.Kind.RESULT


def _apply_statement(insurer: Organization, name: str, content: bytes) -> None:
    """The insurer's monthly statement dropped on SFTP: reconciled at once, as an upload would be."""
    found = STATEMENT_NAME.match(name)
    assert found is not None  # only statement-named files are routed here
    try:
        period_start, period_end = (datetime.date.fromisoformat(day) for day in found.groups())
        insurer_statement_import(
            insurer=insurer,
            handle=io.BytesIO(content),
            period_start=period_start,
            period_end=period_end,
            file_name=name,
            actor=f"sftp:{insurer.slug}",
        )
    except (ValueError, DomainError) as exc:
        raise InboundFileError(f"Statement refused: {getattr(exc, 'detail', exc)}") from None


def _apply_999(insurer: Organization, name: str, text: str) -> Dispatch:
    try:
        ack = x12.parse_999(text)
    except x12.X12Error as exc:
        raise InboundFileError(f"Unreadable 999: {exc}") from None
    dispatch = (
        Dispatch.objects.select_for_update().filter(insurer=insurer, control_number=ack.group_control_number).first()
    )
    if dispatch is None:
        raise InboundFileError(f"The 999 acknowledges group {ack.group_control_number}, which we never sent.")
    if dispatch.ack_status:
        # A file is acknowledged once; a later 999 for the same group changes nothing (it is kept).
        logger.warning("endorsement_999_repeated", dispatch=dispatch.pk, first=dispatch.ack_status, again=ack.status)
        return dispatch
    dispatch.ack_status = ack.status
    dispatch.save(update_fields=["ack_status"])
    sent = EndorsementRequest.objects.filter(dispatch=dispatch, state=RequestState.SENT)
    if ack.status == "R":
        refused = list(sent.values_list("tracking_id", flat=True))
    elif ack.status == "P":
        # The file holds one transaction set per policy, numbered in policy order (gateway/sftp.py).
        mine = EndorsementRequest.objects.filter(dispatch=dispatch)
        policies = sorted(set(mine.values_list("policy_id", flat=True)))
        bad = {
            policies[int(n) - 1]
            for n, code in ack.sets.items()
            if code == "R" and n.isdigit() and 0 < int(n) <= len(policies)
        }
        refused = list(sent.filter(policy_id__in=bad).values_list("tracking_id", flat=True))
    else:
        refused = []
    if refused:
        detail = "; ".join(ack.errors[:5]) or "no detail given"
        events = [
            {
                "event_id": f"{name}:{t}:rejected",
                "type": "endorsement.rejected",
                "tracking_id": t,
                "reason": f"The insurer's 999 rejected file {dispatch.file_name}: {detail}"[:2000],
            }
            for t in refused
        ]
        insurer_events_apply(insurer=insurer, events=events)
    return dispatch


def _apply_result(insurer: Organization, name: str, text: str) -> Dispatch | None:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not set(reader.fieldnames) >= RESULT_COLUMNS:
        raise InboundFileError(f"A result file needs the columns {sorted(RESULT_COLUMNS)}.")
    events: list[dict[str, Any]] = []
    references: set[str] = set()
    for number, row in enumerate(reader, 1):
        tracking_id, status = (row.get("tracking_id") or "").strip(), (row.get("status") or "").strip()
        if not tracking_id or status not in ("accepted", "rejected"):
            raise InboundFileError(f"Row {number} has no tracking id or an unknown status {status!r}.")
        references.add(row["reference"])
        base = {"tracking_id": tracking_id, "reference": row.get("insurer_reference") or ""}
        if status == "rejected":
            reason = f"{row.get('reason_code') or 'rejected'}: {row.get('reason') or 'no reason given'}"
            events.append(
                {**base, "event_id": f"{name}:{number}:rejected", "type": "endorsement.rejected", "reason": reason}
            )
        else:
            events.append({**base, "event_id": f"{name}:{number}:confirmed", "type": "endorsement.confirmed"})
            events.append({**base, "event_id": f"{name}:{number}:activated", "type": "endorsement.activated"})
    if events:
        insurer_events_apply(insurer=insurer, events=events)
    return Dispatch.objects.filter(insurer=insurer, idempotency_key__in=references).first()


@transaction.atomic
def inbound_file_apply(*, insurer: Organization, name: str, content: bytes) -> InboundFile:
    """Record and apply one outbox file; a file already recorded is returned untouched."""
    text = content.decode("utf-8", errors="replace")
    try:
        with transaction.atomic():
            record = InboundFile.objects.create(
                insurer=insurer,
                name=name,
                kind=_kind(name),
                status=InboundFile.Status.APPLIED,
                sha256=hashlib.sha256(content).hexdigest(),
                content=text,
            )
    except IntegrityError:
        return InboundFile.objects.get(insurer=insurer, name=name)
    try:
        # A savepoint: a file that fails half-way applies nothing, and its record stays as the dead letter.
        with transaction.atomic():
            if record.kind == InboundFile.Kind.STATEMENT:
                _apply_statement(insurer, name, content)
            else:
                apply = _apply_999 if record.kind == InboundFile.Kind.ACK_999 else _apply_result
                record.dispatch = apply(insurer, name, text)
    except (InboundFileError, csv.Error) as exc:
        record.status = InboundFile.Status.DEAD_LETTER
        record.error = str(exc)[:2000]
        logger.error("endorsement_inbound_file_dead_letter", insurer=insurer.pk, file=name, error=record.error)
    record.save(update_fields=["status", "error", "dispatch"])
    metrics.INBOUND_FILES.labels(kind=record.kind, status=record.status).inc()
    return record


def insurer_inbox_poll(*, insurer_id: int) -> list[InboundFile]:
    """Fetch the insurer's new outbox files (no locks held during the transfer) and apply each."""
    profile = InsurerProfile.objects.select_related("insurer").get(insurer_id=insurer_id)
    try:
        gateway = gateway_for(profile)
    except GatewayConfigError as exc:
        # Nothing to poll until an operator completes the profile; its deliveries dead-letter meanwhile.
        logger.warning("endorsement_inbox_not_configured", insurer=insurer_id, error=str(exc))
        return []
    if not isinstance(gateway, SftpGateway):
        return []
    known = set(InboundFile.objects.filter(insurer_id=insurer_id).values_list("name", flat=True))
    started = time.perf_counter()
    try:
        files = gateway.fetch_outbox(skip=known)
    except Exception as exc:
        exchange_record(
            insurer_id=insurer_id,
            dispatch_id=None,
            direction="inbound",
            operation="poll_outbox",
            started=started,
            url=gateway.url(profile.sftp_outbound_dir),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    records = []
    for name, content in files:
        record = inbound_file_apply(insurer=profile.insurer, name=name, content=content)
        exchange_record(
            insurer_id=insurer_id,
            dispatch_id=record.dispatch_id,
            direction="inbound",
            operation=f"fetch_{record.kind}",
            started=started,
            url=gateway.url(profile.sftp_outbound_dir, name),
            response_status=200,
            response_body=content.decode("utf-8", errors="replace"),
            error=record.error,
        )
        records.append(record)
    return records
