"""Permission-scoped reads: employers see only their own data; anything else is a 404."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from endorsements.models import Batch, BatchRow, EndorsementRequest
from escrow_project.common.errors import NotFoundError, PermissionDeniedError
from identity.models import Membership, Organization, OrganizationKind, Role
from identity.selectors import user_is_operator


def employer_ids_for_user(user: Any) -> set[int]:
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(
        Membership.objects.filter(
            user=user, role=Role.EMPLOYER_HR, organization__kind=OrganizationKind.EMPLOYER
        ).values_list("organization_id", flat=True)
    )


def employer_for_user(*, user: Any, employer_public_id: Any = None) -> Organization:
    """The employer the caller acts for: their only one, or the one they name."""
    ids = employer_ids_for_user(user)
    if not ids:
        raise PermissionDeniedError("Only an employer's HR staff may do this.", code="not_employer_hr")
    employers = Organization.objects.filter(pk__in=ids, is_active=True)
    if employer_public_id:
        employer = employers.filter(public_id=employer_public_id).first()
        if employer is None:
            raise NotFoundError("No such employer.", code="employer_not_found")
        return employer
    if len(ids) > 1:
        raise PermissionDeniedError(
            "You act for several employers: name one with the `employer` parameter.", code="employer_required"
        )
    employer = employers.first()
    if employer is None:
        raise NotFoundError("No such employer.", code="employer_not_found")
    return employer


def audit_employer_for_user(*, user: Any, employer_public_id: Any = None) -> Organization:
    """The employer whose endorsement audit trail the caller asks for (HR, auditors, operators); 404 otherwise."""
    from endorsements.access import can_see_employer_endorsements

    if not employer_public_id:
        return employer_for_user(user=user)
    try:
        public_id = uuid.UUID(str(employer_public_id))
    except ValueError:
        public_id = None
    employer = (
        Organization.objects.filter(public_id=public_id, kind=OrganizationKind.EMPLOYER).first() if public_id else None
    )
    if employer is None or not can_see_employer_endorsements(user, str(employer.pk)):
        raise NotFoundError("No such employer.", code="employer_not_found")
    return employer


def request_list_for_user(*, user: Any) -> QuerySet[EndorsementRequest]:
    qs = EndorsementRequest.objects.select_related("policy", "member", "batch")
    if user_is_operator(user):
        return qs
    return qs.filter(employer_id__in=employer_ids_for_user(user))


def request_get_for_user(*, user: Any, tracking_id: str) -> EndorsementRequest:
    request = request_list_for_user(user=user).filter(tracking_id=tracking_id).first()
    if request is None:
        raise NotFoundError("No such endorsement request.", code="endorsement_not_found")
    return request


def batch_get_for_user(*, user: Any, public_id: Any) -> Batch:
    qs = Batch.objects.all()
    if not user_is_operator(user):
        qs = qs.filter(employer_id__in=employer_ids_for_user(user))
    batch = qs.filter(public_id=public_id).first()
    if batch is None:
        raise NotFoundError("No such batch.", code="batch_not_found")
    return batch


def batch_rows(*, batch: Batch, outcome: str | None = None) -> QuerySet[BatchRow]:
    qs = BatchRow.objects.filter(batch=batch).order_by("row_number")
    if outcome:
        qs = qs.filter(outcome=outcome)
    return qs


def parked_totals(*, employer_id: int, currency: str) -> tuple[Decimal, int]:
    """What waits for funds in one EA: the sum of the parked debits and how many there are."""
    from django.db.models import Count, Sum

    from endorsements.states import RequestState

    got = EndorsementRequest.objects.filter(
        employer_id=employer_id, currency=currency, state=RequestState.ON_HOLD_FUNDS
    ).aggregate(total=Sum("amount"), count=Count("pk"))
    return got["total"] or Decimal(0), got["count"]


def employer_for_hr_page(*, user: Any, employer_public_id: Any) -> Organization:
    """The employer whose HR pages the caller opens: only its own HR staff; anyone else gets a 404
    (operators too: these pages are the employer's own, the console is theirs)."""
    employer = Organization.objects.filter(
        pk__in=employer_ids_for_user(user), public_id=employer_public_id, is_active=True
    ).first()
    if employer is None:
        raise NotFoundError("No such employer.", code="employer_not_found")
    return employer


def requests_for_employer(
    *, employer: Organization, state: str = "", kind: str = "", member_or_reference: str = ""
) -> QuerySet[EndorsementRequest]:
    """An employer's requests, newest first, filtered as the HR page asks.

    Member ids are stored encrypted: a search by member id goes through the member's blind index,
    so only the exact id finds it (a tracking id is matched as written).
    """
    from endorsements.validation import member_index

    qs = EndorsementRequest.objects.filter(employer=employer).select_related("policy", "member", "batch")
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    needle = member_or_reference.strip()
    if needle:
        if needle.upper().startswith("END-"):
            qs = qs.filter(tracking_id=needle.upper())
        else:
            qs = qs.filter(member__member_index=member_index(needle))
    return qs.order_by("-created_at", "-pk")


def request_counts_by_state(*, employer: Organization) -> dict[str, int]:
    from django.db.models import Count

    rows = EndorsementRequest.objects.filter(employer=employer).values_list("state").annotate(n=Count("pk"))
    return dict(rows)


def parked_queue(
    *, employer: Organization, currency: str, available: Decimal
) -> list[tuple[EndorsementRequest, Decimal]]:
    """Parked requests in the order they will be funded, each with what the account still needs
    before it can go (its own amount and everything ahead of it, less what is available)."""
    from endorsements.states import RequestState

    queue = (
        EndorsementRequest.objects.filter(employer=employer, currency=currency, state=RequestState.ON_HOLD_FUNDS)
        .select_related("member", "policy")
        .order_by("effective_date", "created_at", "pk")
    )
    needs: list[tuple[EndorsementRequest, Decimal]] = []
    running = Decimal(0)
    for request in queue[:500]:
        running += request.amount
        needs.append((request, max(running - available, Decimal(0))))
    return needs


def batches_for_employer(*, employer: Organization) -> QuerySet[Batch]:
    return Batch.objects.filter(employer=employer).order_by("-created_at")


def batch_for_employer(*, employer: Organization, public_id: Any) -> Batch:
    batch = Batch.objects.filter(employer=employer, public_id=public_id).first()
    if batch is None:
        raise NotFoundError("No such batch.", code="batch_not_found")
    return batch


def batch_rows_csv(*, batch: Batch, outcome: str | None = None) -> tuple[list[str], Any]:
    """The header and the lines of a batch's row results (for the API and the HR page alike)."""
    rows = batch_rows(batch=batch, outcome=outcome)

    def lines() -> Any:
        for row in rows.iterator(chunk_size=2000):
            reasons = "; ".join(f"{e.get('field') or '-'}: {e.get('message')}" for e in row.errors)
            yield [row.row_number, row.outcome, row.tracking_id, row.original_tracking_id, reasons]

    return ["row", "outcome", "tracking_id", "original_tracking_id", "errors"], lines()
