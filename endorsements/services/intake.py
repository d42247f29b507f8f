"""Intake: schema and business rules, duplicate detection, request creation. Shared by API and files."""

from __future__ import annotations

import base64
import datetime
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import structlog
from django.db import transaction
from django.utils import timezone

from endorsements import hooks, metrics
from endorsements.models import (
    Batch,
    BatchRow,
    Coverage,
    Direction,
    EndorsementAccount,
    EndorsementKind,
    EndorsementRequest,
    GroupPolicy,
    InsurerProfile,
    Member,
    RateCard,
    Relationship,
)
from endorsements.premium import (
    PlanPeriod,
    PremiumError,
    ProrationMethod,
    addition_premium,
    current_run,
    deletion_credit_for,
    modification_amount_for,
)
from endorsements.services.funding import ea_drain, ea_fund_new, ea_funded, ea_lock
from endorsements.states import LIVE_STATES, OPEN_STATES, RequestState
from endorsements.validation import CleanRow, RowError, content_hash, parse_row
from escrow_project.common.bulk import rows_insert
from escrow_project.common.errors import ConflictError, UnprocessableError
from identity.models import Organization

logger = structlog.get_logger(__name__)

DEFAULT_BACKDATE_DAYS = 60
DEFAULT_FUTURE_DAYS = 90


@dataclass
class RowOutcome:
    row_number: int
    outcome: str
    tracking_id: str = ""
    original_tracking_id: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    request: EndorsementRequest | None = None


def new_tracking_id() -> str:
    return "END-" + base64.b32encode(secrets.token_bytes(10)).decode().rstrip("=")


@dataclass
class _PolicyInfo:
    policy: GroupPolicy
    method: ProrationMethod
    backdate_days: int
    future_days: int
    rates: dict[tuple[str, str], Decimal]


def _load_policies(employer: Organization, numbers: Iterable[str]) -> dict[str, list[_PolicyInfo]]:
    # Locking the policy rows serialises intake per policy: two uploads adding the same member or
    # sending the same content cannot both pass the checks below. NO KEY UPDATE: rows that merely
    # reference the policy (coverages written by an insurer callback) take KEY SHARE on it, which
    # this lock does not block, so callbacks never queue behind (or deadlock with) an intake.
    policies = list(
        GroupPolicy.objects.select_for_update(no_key=True)
        .filter(employer=employer, policy_number__in=set(numbers), is_active=True)
        .order_by("pk")
    )
    profiles = {p.insurer_id: p for p in InsurerProfile.objects.filter(insurer_id__in={x.insurer_id for x in policies})}
    rates: dict[int, dict[tuple[str, str], Decimal]] = {p.pk: {} for p in policies}
    for rate in RateCard.objects.filter(policy__in=policies):
        rates[rate.policy_id][(rate.plan.casefold(), rate.relationship)] = rate.annual_premium
    found: dict[str, list[_PolicyInfo]] = {}
    for policy in policies:
        profile = profiles.get(policy.insurer_id)
        found.setdefault(policy.policy_number, []).append(
            _PolicyInfo(
                policy=policy,
                method=ProrationMethod(profile.proration_method) if profile else ProrationMethod.DAYS,
                backdate_days=profile.backdate_window_days if profile else DEFAULT_BACKDATE_DAYS,
                future_days=profile.future_limit_days if profile else DEFAULT_FUTURE_DAYS,
                rates=rates[policy.pk],
            )
        )
    return found


def _plan_name(info: _PolicyInfo, plan: str, relationship: str) -> Decimal | None:
    return info.rates.get((plan.casefold(), relationship))


@transaction.atomic
def endorsements_intake(
    *,
    employer: Organization,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    source: str,
    batch: Batch | None = None,
    today: datetime.date | None = None,
    accounts: Mapping[str, EndorsementAccount] | None = None,
) -> list[RowOutcome]:
    """Validate rows, detect duplicates and create the accepted requests (state VALIDATED).

    With `accounts` (the caller holds these EA row locks, by currency), funds are locked for the
    new requests before they are written (`funding.ea_fund_new`), so each row is written once.
    """
    today = today or timezone.localdate()
    outcomes: list[RowOutcome] = []
    parsed: list[tuple[int, CleanRow]] = []
    for row_number, raw in rows:
        clean, errors = parse_row(raw)
        if clean is None:
            outcomes.append(RowOutcome(row_number, BatchRow.Outcome.REJECTED, errors=[e.as_dict() for e in errors]))
        else:
            parsed.append((row_number, clean))

    policies = _load_policies(employer, {c.policy_number for _, c in parsed})
    indexes_by_policy: dict[int, set[str]] = {}
    for _, clean in parsed:
        for info in policies.get(clean.policy_number, []):
            indexes_by_policy.setdefault(info.policy.pk, set()).update(
                {clean.member_index, clean.employee_index} - {""}
            )
    members: dict[tuple[int, str], Member] = {}
    for policy_id, indexes in indexes_by_policy.items():
        for m in Member.objects.filter(policy_id=policy_id, member_index__in=indexes):
            members[(policy_id, m.member_index)] = m
    open_kinds: dict[int, set[str]] = {}
    member_ids = [m.pk for m in members.values()]
    changing = {
        members[(info.policy.pk, clean.member_index)].pk
        for _, clean in parsed
        if clean.kind != EndorsementKind.ADDITION
        for info in policies.get(clean.policy_number, [])
        if (info.policy.pk, clean.member_index) in members
    }
    histories = _coverage_histories(changing)
    for member_id, kind in EndorsementRequest.objects.filter(
        member_id__in=member_ids, state__in=OPEN_STATES
    ).values_list("member_id", "kind"):
        open_kinds.setdefault(member_id, set()).add(kind)

    # Hash -> tracking id of the live original, from the database and from this chunk.
    hashes: dict[int, str] = {}
    infos: dict[int, _PolicyInfo] = {}
    for row_number, clean in parsed:
        candidates = policies.get(clean.policy_number, [])
        if len(candidates) == 1:
            infos[row_number] = candidates[0]
            hashes[row_number] = content_hash(clean, policy_key=str(candidates[0].policy.public_id))
    originals = dict(
        EndorsementRequest.objects.filter(content_hash__in=set(hashes.values()), state__in=LIVE_STATES).values_list(
            "content_hash", "tracking_id"
        )
    )

    to_create: list[EndorsementRequest] = []
    new_members: list[Member] = []
    for row_number, clean in parsed:
        found = infos.get(row_number)
        if found is None:
            reason = (
                "No active policy with this number belongs to your organization."
                if not policies.get(clean.policy_number)
                else "This policy number is ambiguous across insurers; contact support."
            )
            outcomes.append(
                RowOutcome(
                    row_number,
                    BatchRow.Outcome.REJECTED,
                    errors=[RowError("policy_number", "unknown_policy", reason).as_dict()],
                )
            )
            continue
        info = found
        digest = hashes[row_number]
        if digest in originals:
            outcomes.append(
                RowOutcome(
                    row_number,
                    BatchRow.Outcome.DUPLICATE,
                    original_tracking_id=originals[digest],
                    errors=[
                        RowError(
                            None, "duplicate", f"The same endorsement was already received as {originals[digest]}."
                        ).as_dict()
                    ],
                )
            )
            continue
        errors, member, amount, direction = _business_rules(clean, info, members, open_kinds, today, histories)
        if errors:
            outcomes.append(RowOutcome(row_number, BatchRow.Outcome.REJECTED, errors=[e.as_dict() for e in errors]))
            continue
        policy = info.policy
        if member is None:  # an addition: the member exists from now on, pending the insurer
            employee = members.get((policy.pk, clean.employee_index)) if clean.employee_index else None
            member = Member(
                policy=policy,
                member_id=clean.member_id,
                member_index=clean.member_index,
                person_name=clean.name,
                date_of_birth=cast(Any, clean.date_of_birth),
                relationship=clean.relationship,
                employee=employee,
                plan=clean.plan,
                status=Member.Status.PENDING,
            )
            new_members.append(member)
            members[(policy.pk, clean.member_index)] = member
        request = EndorsementRequest(
            tracking_id=new_tracking_id(),
            policy=policy,
            employer=employer,
            insurer_id=policy.insurer_id,
            member=member,
            kind=clean.kind,
            plan=clean.plan or member.plan,
            new_plan=clean.new_plan,
            effective_date=clean.effective_date,
            direction=direction,
            amount=amount,
            currency=policy.currency,
            content_hash=digest,
            source=source,
            batch=batch,
            batch_row=row_number if batch is not None else None,
        )
        request.validate()
        to_create.append(request)
        originals[digest] = request.tracking_id
        _remember_open(open_kinds, member, clean.kind)
        outcomes.append(
            RowOutcome(row_number, BatchRow.Outcome.ACCEPTED, tracking_id=request.tracking_id, request=request)
        )

    # Employees first so dependants added in the same chunk can point at them (two bulk inserts).
    employees = [m for m in new_members if m.relationship == Relationship.EMPLOYEE]
    dependants = [m for m in new_members if m.relationship != Relationship.EMPLOYEE]
    rows_insert(Member, employees)
    for m in dependants:
        m.employee = m.employee  # re-read the employee's new primary key into employee_id
    rows_insert(Member, dependants)
    for request in to_create:
        request.member = request.member
    funded = {
        currency: ea_fund_new(ea=ea, requests=mine)
        for currency, ea in sorted((accounts or {}).items())
        if (mine := [r for r in to_create if r.currency == currency])
    }
    rows_insert(EndorsementRequest, to_create)
    if batch is not None:
        rows_insert(
            BatchRow,
            [
                BatchRow(
                    batch=batch,
                    row_number=o.row_number,
                    outcome=o.outcome,
                    tracking_id=o.tracking_id,
                    original_tracking_id=o.original_tracking_id,
                    errors=o.errors,
                )
                for o in outcomes
            ],
        )
    # Last: the employer's audit chain head is shared with every other writer of this employer.
    # HR hears about an API request at once; a file's rows are summed up once per batch.
    actor = f"intake:{source}"
    hooks.requests_step(
        to_create, "endorsement.received", actor=actor, notify=source == "api", state=RequestState.VALIDATED
    )
    for currency, decided in funded.items():
        assert accounts is not None
        ea_funded(ea=accounts[currency], funded=decided, actor=actor)
    for outcome in outcomes:
        metrics.INTAKE_ROWS.labels(source=source, outcome=outcome.outcome).inc()
    outcomes.sort(key=lambda o: o.row_number)
    return outcomes


def _remember_open(open_kinds: dict[int, set[str]], member: Member, kind: str) -> None:
    # Unsaved members have no pk yet; key them by object identity until they are saved.
    key = member.pk if member.pk is not None else -id(member)
    open_kinds.setdefault(key, set()).add(kind)


def _open_for(open_kinds: dict[int, set[str]], member: Member) -> set[str]:
    key = member.pk if member.pk is not None else -id(member)
    return open_kinds.get(key, set())


@dataclass
class _History:
    """A member's current coverage as plan periods, and what it was charged net (None: unknown)."""

    coverages: list[tuple[str, datetime.date, datetime.date | None]] = field(default_factory=list)
    charged: Decimal | None = None


def _coverage_histories(member_ids: set[int]) -> dict[int, _History]:
    """The current run of coverage periods of each member (contiguous, ending with the latest one)."""
    histories: dict[int, _History] = {pk: _History() for pk in member_ids}
    if not member_ids:
        return histories
    rows: dict[int, list[tuple[str, datetime.date, datetime.date | None]]] = {}
    for member_id, plan, start, end in Coverage.objects.filter(
        member_id__in=member_ids, voided_at__isnull=True
    ).values_list("member_id", "plan", "start_date", "end_date"):
        rows.setdefault(member_id, []).append((plan, start, end))
    for member_id, periods in rows.items():
        histories[member_id].coverages = current_run(periods, start=lambda p: p[1], end=lambda p: p[2])
    # Net charged for the current coverage: the activated requests since its (latest) addition.
    for member_id, kind, direction, amount in (
        EndorsementRequest.objects.filter(member_id__in=member_ids, state=RequestState.ACTIVE)
        .order_by("member_id", "pk")
        .values_list("member_id", "kind", "direction", "amount")
    ):
        history = histories[member_id]
        if kind == EndorsementKind.ADDITION:
            history.charged = Decimal(0)
        if history.charged is not None:
            history.charged += amount if direction == Direction.DEBIT else -amount
    return histories


def _periods(info: _PolicyInfo, member: Member, history: _History | None) -> list[PlanPeriod]:
    """The member's plan periods with their annual premiums. A member covered before coverage
    history was kept (no Coverage rows) counts as covered on its plan from the term start."""
    rows = history.coverages if history and history.coverages else [(member.plan, info.policy.term_start, None)]
    return [
        PlanPeriod(start, end, _plan_name(info, plan, member.relationship) or Decimal(0)) for plan, start, end in rows
    ]


def _business_rules(
    clean: CleanRow,
    info: _PolicyInfo,
    members: dict[tuple[int, str], Member],
    open_kinds: dict[int, set[str]],
    today: datetime.date,
    histories: dict[int, _History],
) -> tuple[list[RowError], Member | None, Decimal, str]:
    policy = info.policy
    errors: list[RowError] = []
    d = clean.effective_date
    if not policy.term_start <= d <= policy.term_end:
        errors.append(
            RowError(
                "effective_date",
                "outside_term",
                f"effective_date must be inside the policy term {policy.term_start} to {policy.term_end}.",
            )
        )
    if d > today + datetime.timedelta(days=info.future_days):
        errors.append(
            RowError("effective_date", "too_far_ahead", f"effective_date is more than {info.future_days} days ahead.")
        )
    if d < today - datetime.timedelta(days=info.backdate_days):
        errors.append(
            RowError(
                "effective_date",
                "backdated_too_far",
                f"effective_date is backdated more than the insurer's {info.backdate_days}-day window.",
            )
        )
    existing = members.get((policy.pk, clean.member_index))
    amount = Decimal(0)
    direction = Direction.DEBIT
    if clean.kind == EndorsementKind.ADDITION:
        if existing is not None and existing.status in (Member.Status.PENDING, Member.Status.COVERED):
            errors.append(RowError("member_id", "already_covered", "This member is already covered or being added."))
        if existing is not None and existing.status in (Member.Status.REMOVED, Member.Status.NOT_COVERED):
            # Re-adding someone reuses the member row; see the decision record.
            pass
        annual = _plan_name(info, clean.plan, clean.relationship)
        if annual is None:
            errors.append(RowError("plan", "unknown_plan", "This plan is not on the policy for this relationship."))
        if clean.relationship != Relationship.EMPLOYEE:
            employee = members.get((policy.pk, clean.employee_index))
            if (
                employee is None
                or employee.relationship != Relationship.EMPLOYEE
                or employee.status not in (Member.Status.PENDING, Member.Status.COVERED)
                or (employee.pk is not None and EndorsementKind.DELETION in _open_for(open_kinds, employee))
            ):
                errors.append(
                    RowError(
                        "employee_member_id", "employee_not_covered", "A dependant must attach to a covered employee."
                    )
                )
        if errors or annual is None:
            return errors, None, amount, direction
        amount = addition_premium(
            annual=annual,
            currency=policy.currency,
            term_start=policy.term_start,
            term_end=policy.term_end,
            effective=d,
            method=info.method,
        )
        if existing is not None:
            existing.person_name = clean.name
            existing.date_of_birth = cast(Any, clean.date_of_birth)
            existing.plan = clean.plan
            existing.relationship = clean.relationship
            existing.employee = members.get((policy.pk, clean.employee_index)) if clean.employee_index else None
            existing.add_again()
            existing.save()
        return [], existing, amount, Direction.DEBIT

    # Deletions and modifications need a member that is covered now with nothing else in flight.
    if existing is None or existing.status != Member.Status.COVERED:
        errors.append(RowError("member_id", "not_covered", "This member is not covered on this policy."))
        return errors, None, amount, direction
    in_flight = _open_for(open_kinds, existing)
    if in_flight:
        errors.append(
            RowError("member_id", "request_in_progress", "Another endorsement for this member is still in progress.")
        )
    if errors:
        return errors, None, amount, direction
    history = histories.get(existing.pk)
    periods = _periods(info, existing, history)
    try:
        if clean.kind == EndorsementKind.DELETION:
            amount = deletion_credit_for(
                periods=periods,
                currency=policy.currency,
                term_start=policy.term_start,
                term_end=policy.term_end,
                last_covered=d,
                method=info.method,
                claim_in_term=existing.claim_in_term,
                charged=history.charged if history else None,
            )
            return [], existing, amount, Direction.CREDIT
        new_annual = _plan_name(info, clean.new_plan, existing.relationship)
        if new_annual is None:
            return (
                [RowError("new_plan", "unknown_plan", "This plan is not on the policy for this relationship.")],
                None,
                amount,
                direction,
            )
        if clean.new_plan.casefold() == existing.plan.casefold():
            return [RowError("new_plan", "same_plan", "The member is already on this plan.")], None, amount, direction
        signed = modification_amount_for(
            periods=periods,
            new_annual=new_annual,
            currency=policy.currency,
            term_start=policy.term_start,
            term_end=policy.term_end,
            effective=d,
            method=info.method,
            charged=history.charged if history else None,
        )
    except PremiumError as exc:
        return [RowError("effective_date", exc.code, str(exc))], None, amount, direction
    return [], existing, abs(signed), Direction.DEBIT if signed >= 0 else Direction.CREDIT


@transaction.atomic
def endorsement_submit(*, employer: Organization, data: Mapping[str, Any], actor: str) -> EndorsementRequest:
    """One endorsement through the same checks as a file row, then straight to fund locking."""
    # Lock order of every funding path: the EA row first (then policy, requests, ledger, audit).
    currencies = set(
        GroupPolicy.objects.filter(
            employer=employer, policy_number=str(data.get("policy_number", ""))[:64], is_active=True
        ).values_list("currency", flat=True)
    )
    for currency in sorted(currencies):
        ea_lock(employer_id=employer.pk, currency=currency)
    outcome = endorsements_intake(employer=employer, rows=[(1, data)], source="api")[0]
    if outcome.outcome == BatchRow.Outcome.DUPLICATE:
        raise ConflictError(
            f"The same endorsement was already received as {outcome.original_tracking_id}.",
            code="duplicate_endorsement",
            errors=[{**outcome.errors[0], "original_tracking_id": outcome.original_tracking_id}],
        )
    if outcome.outcome == BatchRow.Outcome.REJECTED or outcome.request is None:
        raise UnprocessableError("The endorsement is invalid.", code="invalid_endorsement", errors=outcome.errors)
    request = outcome.request
    ea_drain(employer_id=employer.pk, currency=request.currency, actor=actor)
    request.refresh_from_db()
    return request
