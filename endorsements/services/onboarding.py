"""Onboarding an insurer and an employer: profiles, policies, rate cards and the census import.

The census is the opening position: the members an employer already has covered, with the dates
their cover started. It creates members and coverages only (no endorsement request, no hold, no
premium), is audited on the employer's chain, and is read as a stream in chunks of
`CENSUS_CHUNK_ROWS` rows, each chunk its own transaction with the progress written as it commits.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from endorsements import hooks
from endorsements.files import FileFormatError, iter_csv, iter_x12
from endorsements.models import CensusImport, Coverage, GroupPolicy, InsurerProfile, Member, RateCard, Relationship
from endorsements.validation import MEMBER_ID_RE, RowError, _date, _text, member_index
from escrow_project.common.bulk import rows_insert
from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import ConflictError, NotFoundError, UnprocessableError
from identity.models import Organization, OrganizationKind, User

logger = structlog.get_logger(__name__)

CENSUS_CHUNK_ROWS = 1000
CENSUS_MAX_ERRORS = 1000
CENSUS_FIELDS = ("member_id", "name", "date_of_birth", "relationship", "plan", "start_date", "employee_member_id")
# What an operator may set on an insurer's profile through onboarding (secrets included: write-only).
PROFILE_FIELDS = (
    "protocol",
    "proration_method",
    "base_url",
    "api_key",
    "backdate_window_days",
    "future_limit_days",
    "window_seconds",
    "max_attempts",
    "sftp_host",
    "sftp_port",
    "sftp_username",
    "sftp_private_key",
    "sftp_host_key",
    "sftp_inbound_dir",
    "sftp_outbound_dir",
    "x12_sender_id",
    "x12_receiver_id",
)


def _org(public_id: Any, kind: str, what: str) -> Organization:
    try:
        found = Organization.objects.filter(public_id=uuid.UUID(str(public_id)), kind=kind).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFoundError(f"No such {what}.", code=f"{what}_not_found")
    return found


def _checked(obj: Any, detail: str) -> None:
    """Model validation (for a profile: is its protocol usable?) as our 422 problem, per field."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise UnprocessableError(
            detail,
            code="invalid_configuration",
            errors=[
                {"field": name, "code": "invalid", "message": " ".join(messages)}
                for name, messages in exc.message_dict.items()
            ],
        ) from None


@transaction.atomic
def insurer_profile_set(*, insurer_public_id: Any, data: Mapping[str, Any], actor: str) -> InsurerProfile:
    """Create or update an insurer's profile; refused whole if its protocol lacks what it needs."""
    insurer = _org(insurer_public_id, OrganizationKind.INSURER, "insurer")
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise UnprocessableError(
            "Unknown profile fields.",
            code="unknown_field",
            errors=[{"field": f, "code": "unknown_field", "message": f"{f} is not a profile field."} for f in unknown],
        )
    profile = InsurerProfile.objects.select_for_update().filter(insurer=insurer).first() or InsurerProfile(
        insurer=insurer
    )
    for name, value in data.items():
        setattr(profile, name, value)
    _checked(profile, "The insurer's profile is incomplete or invalid.")
    profile.save()
    changed = sorted(data)
    hooks.employer_event(
        employer_id=insurer.pk,
        kind="insurer.profile_set",
        actor=actor,
        # Which fields changed, never their values: secrets stay out of the audit chain.
        payload={"insurer": str(insurer.public_id), "fields": changed, "protocol": profile.protocol},
    )
    return profile


def rates_parse(rates: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, Decimal]]:
    parsed, errors = [], []
    for n, rate in enumerate(rates, 1):
        plan, relationship = str(rate.get("plan") or "").strip(), str(rate.get("relationship") or "").strip()
        try:
            premium = Decimal(str(rate.get("annual_premium")))
        except InvalidOperation:
            premium = Decimal(-1)
        if not plan or relationship not in Relationship.values or not premium.is_finite() or premium < 0:
            errors.append(
                {
                    "field": f"rates[{n}]",
                    "code": "invalid_rate",
                    "message": "A rate needs a plan, a relationship and a non-negative annual_premium.",
                }
            )
        else:
            parsed.append((plan, relationship, premium))
    if errors:
        raise UnprocessableError("Some rates are invalid.", code="invalid_rates", errors=errors)
    return parsed


@transaction.atomic
def policy_onboard(
    *,
    employer_public_id: Any,
    insurer_public_id: Any,
    policy_number: str,
    term_start: datetime.date,
    term_end: datetime.date,
    currency: str,
    rates: Iterable[Mapping[str, Any]],
    actor: str,
) -> GroupPolicy:
    """A group policy with its rate cards, in one step."""
    employer = _org(employer_public_id, OrganizationKind.EMPLOYER, "employer")
    insurer = _org(insurer_public_id, OrganizationKind.INSURER, "insurer")
    if not InsurerProfile.objects.filter(insurer=insurer).exists():
        raise UnprocessableError("Set up the insurer's profile first.", code="insurer_not_onboarded")
    if GroupPolicy.objects.filter(insurer=insurer, policy_number=policy_number).exists():
        raise ConflictError("The insurer already has a policy with this number.", code="policy_exists")
    parsed = rates_parse(rates)
    policy = GroupPolicy(
        employer=employer,
        insurer=insurer,
        policy_number=policy_number,
        term_start=term_start,
        term_end=term_end,
        currency=currency.upper(),
    )
    _checked(policy, "The policy is invalid.")
    policy.save()
    rate_cards_add(policy=policy, rows=parsed, actor=actor, audit=False)
    hooks.employer_event(
        employer_id=employer.pk,
        kind="policy.onboarded",
        actor=actor,
        payload={"policy": str(policy.public_id), "policy_number": policy_number, "rates": len(parsed)},
    )
    return policy


def rate_cards_add(
    *, policy: GroupPolicy, rows: list[tuple[str, str, Decimal]], actor: str, audit: bool = True
) -> list[RateCard]:
    """New plans on a policy (from `rates_parse`); an existing plan's price is not changed here:
    it priced the policy's history."""
    existing = set(RateCard.objects.filter(policy=policy).values_list("plan", "relationship"))
    clash = sorted(f"{p}/{r}" for p, r, _ in rows if (p, r) in existing)
    if clash:
        raise ConflictError(f"The policy already prices {', '.join(clash)}.", code="rate_exists")
    cards = RateCard.objects.bulk_create(
        [RateCard(policy=policy, plan=p, relationship=r, annual_premium=a) for p, r, a in rows]
    )
    if audit:
        hooks.employer_event(
            employer_id=policy.employer_id,
            kind="policy.rates_added",
            actor=actor,
            payload={"policy": str(policy.public_id), "plans": sorted({p for p, _, _ in rows})},
        )
    return cards


def _census_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "endorsements" / "census"
    path.mkdir(parents=True, exist_ok=True)
    return path


@transaction.atomic
def census_create(*, policy: GroupPolicy, user: User | None, upload: UploadedFile) -> CensusImport:
    """Store the uploaded census (streamed to disk) and queue it."""
    if not upload.size:
        raise UnprocessableError("The file is empty.", code="empty_file")
    name = (upload.name or "").lower()
    suffix = "x12" if name.endswith((".x12", ".834", ".edi")) else "csv"
    public_id = uuid.uuid4()
    path = _census_dir() / f"{public_id}.{suffix}"
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    census = CensusImport.objects.create(
        public_id=public_id,
        policy=policy,
        submitted_by=user,
        file_name=(upload.name or "")[:255],
        file_path=str(path),
        file_sha256=digest.hexdigest(),
        file_size=size,
    )
    from endorsements.tasks import census_import_task

    enqueue_on_commit(census_import_task, census.pk)
    return census


def _census_row(
    raw: Mapping[str, Any], policy: GroupPolicy, plans: set[tuple[str, str]]
) -> tuple[dict[str, Any] | None, list[RowError]]:
    errors: list[RowError] = []
    for name in sorted(str(k) for k in raw if k not in CENSUS_FIELDS):
        errors.append(RowError(name, "unknown_field", f"{name} is not a census column."))
    member_id = _text(raw, "member_id", errors)
    name = _text(raw, "name", errors)
    relationship = _text(raw, "relationship", errors).lower()
    plan = _text(raw, "plan", errors)
    employee_member_id = _text(raw, "employee_member_id", errors)
    born = _date(raw, "date_of_birth", errors, required=True)
    start = _date(raw, "start_date", errors, required=True)
    if not MEMBER_ID_RE.match(member_id):
        errors.append(
            RowError("member_id", "invalid_format", "member_id must be 1-40 letters, digits, '.', '_', '/' or '-'.")
        )
    if not name:
        errors.append(RowError("name", "required", "name is required."))
    if relationship not in Relationship.values:
        errors.append(
            RowError("relationship", "invalid_choice", f"relationship must be one of {', '.join(Relationship.values)}.")
        )
    elif (plan, relationship) not in plans:
        errors.append(
            RowError("plan", "unknown_plan", f"The policy has no rate for {plan or '(none)'}/{relationship}.")
        )
    if relationship and relationship != Relationship.EMPLOYEE and not employee_member_id:
        errors.append(RowError("employee_member_id", "required", "A dependant needs the member_id of its employee."))
    if start and not policy.term_start <= start <= policy.term_end:
        errors.append(RowError("start_date", "outside_term", "start_date is outside the policy term."))
    if born and start and born > start:
        errors.append(RowError("date_of_birth", "after_start_date", "date_of_birth is after the start date."))
    if errors:
        return None, errors
    return {
        "member_id": member_id,
        "index": member_index(member_id),
        "name": name,
        "born": born,
        "relationship": relationship,
        "plan": plan,
        "start": start,
        "employee_index": member_index(employee_member_id) if employee_member_id else "",
    }, []


@transaction.atomic
def _census_chunk(*, census_id: int, chunk: list[tuple[int, Any]]) -> None:
    census = CensusImport.objects.select_for_update().select_related("policy").get(pk=census_id)
    policy = census.policy
    chunk = [(n, raw) for n, raw in chunk if n > census.rows_done]  # a rerun skips committed rows
    if not chunk:
        return
    plans = set(RateCard.objects.filter(policy=policy).values_list("plan", "relationship"))
    cleaned: list[tuple[int, dict[str, Any]]] = []
    rejected: list[dict[str, Any]] = []
    for number, raw in chunk:
        row, errors = _census_row(raw, policy, plans)
        if row is None:
            rejected.append({"row": number, "errors": [e.as_dict() for e in errors]})
        else:
            cleaned.append((number, row))
    indexes = {r["index"] for _, r in cleaned} | {r["employee_index"] for _, r in cleaned} - {""}
    known = {
        m.member_index: m
        for m in Member.objects.filter(policy=policy, member_index__in=indexes).only(
            "pk", "member_index", "relationship"
        )
    }
    employees: list[Member] = []
    dependants: list[tuple[Member, str]] = []
    starts: dict[int, datetime.date] = {}
    for number, row in cleaned:
        if row["index"] in known:
            rejected.append(
                {
                    "row": number,
                    "errors": [
                        RowError("member_id", "already_on_policy", "The member is already on the policy.").as_dict()
                    ],
                }
            )
            continue
        member = Member(
            policy=policy,
            member_id=row["member_id"],
            member_index=row["index"],
            person_name=row["name"],
            date_of_birth=row["born"],
            relationship=row["relationship"],
            plan=row["plan"],
            status=Member.Status.COVERED,
        )
        known[row["index"]] = member  # a second line for the same member in this file is refused
        starts[id(member)] = row["start"]
        if row["relationship"] == Relationship.EMPLOYEE:
            employees.append(member)
        else:
            dependants.append((member, row["employee_index"]))
    rows_insert(Member, employees)
    kept: list[Member] = []
    for member, employee_index in dependants:
        employee = known.get(employee_index)
        if employee is None or employee.pk is None or employee.relationship != Relationship.EMPLOYEE:
            number = next(n for n, r in cleaned if r["index"] == member.member_index)
            rejected.append(
                {
                    "row": number,
                    "errors": [
                        RowError(
                            "employee_member_id",
                            "unknown_employee",
                            "The employee is not on the policy (list employees before their dependants).",
                        ).as_dict()
                    ],
                }
            )
            continue
        member.employee_id = employee.pk
        kept.append(member)
    rows_insert(Member, kept)
    created = employees + kept
    rows_insert(
        Coverage,
        [Coverage(member=m, policy=policy, plan=m.plan, start_date=starts[id(m)]) for m in created],
    )
    census.rows_done = chunk[-1][0]
    census.rows_created += len(created)
    census.rows_rejected += len(rejected)
    room = CENSUS_MAX_ERRORS - len(census.row_errors)
    if room > 0:
        census.row_errors = [*census.row_errors, *sorted(rejected, key=lambda r: r["row"])[:room]]
    census.save(update_fields=["rows_done", "rows_created", "rows_rejected", "row_errors"])


def census_process(*, census_id: int, progress: Callable[[CensusImport], None] | None = None) -> CensusImport:
    """Read the census file as a stream and load it chunk by chunk (resumable after a crash)."""
    census = CensusImport.objects.get(pk=census_id)
    if census.status in (CensusImport.Status.COMPLETED, CensusImport.Status.FAILED):
        return census
    CensusImport.objects.filter(pk=census_id).update(status=CensusImport.Status.PROCESSING)
    error = ""
    try:
        with open(census.file_path, "rb") as handle:
            chunk: list[tuple[int, Any]] = []
            rows = (
                iter_x12(handle, census=True)
                if census.file_path.endswith(".x12")
                else iter_csv(
                    handle, required=("member_id", "relationship", "start_date"), known=CENSUS_FIELDS, header_row=0
                )
            )
            for number, raw in rows:
                chunk.append((number, raw))
                if len(chunk) >= CENSUS_CHUNK_ROWS:
                    _census_chunk(census_id=census_id, chunk=chunk)
                    chunk = []
                    if progress:
                        progress(CensusImport.objects.get(pk=census_id))
            if chunk:
                _census_chunk(census_id=census_id, chunk=chunk)
    except FileFormatError as exc:
        error = str(exc)
    return _census_finish(census_id=census_id, error=error)


@transaction.atomic
def _census_finish(*, census_id: int, error: str) -> CensusImport:
    census = CensusImport.objects.select_for_update().select_related("policy").get(pk=census_id)
    census.status = CensusImport.Status.FAILED if error else CensusImport.Status.COMPLETED
    census.error = error[:2000]
    census.finished_at = timezone.now()
    census.save(update_fields=["status", "error", "finished_at"])
    hooks.employer_event(
        employer_id=census.policy.employer_id,
        kind="census.imported" if not error else "census.failed",
        actor=f"user:{census.submitted_by_id}" if census.submitted_by_id else "system:census",
        payload={
            "census": str(census.public_id),
            "policy": str(census.policy.public_id),
            "file_sha256": census.file_sha256,
            "created": census.rows_created,
            "rejected": census.rows_rejected,
            "error": census.error,
        },
    )
    logger.info("endorsement_census_done", census=str(census.public_id), created=census.rows_created)
    return census
