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
