"""Who may be named on an escrow transaction, and who may record money or change payout details.

docs/decisions/0502-who-may-do-what.md has the rules and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q

from escrow_project.common.errors import PermissionDeniedError, UnprocessableError
from identity import services as identity_services
from identity.models import Membership, Organization, OrganizationKind, Role
from identity.selectors import organization_ids_for_user, user_is_operator
from verifications.models import VerificationTask

# What each named role must be. Buyers and sellers may be households or businesses, never the
# platform itself; agents are brokerages; the lender is a lender.
_PARTY_KINDS: dict[str, set[str] | None] = {
    "buyer": None,
    "seller": None,
    "buyer_agent": {OrganizationKind.BROKERAGE},
    "seller_agent": {OrganizationKind.BROKERAGE},
    "lender": {OrganizationKind.LENDER},
}


def _refuse(field: str, message: str, code: str) -> UnprocessableError:
    return UnprocessableError(message, code=code, errors=[{"field": field, "code": code, "message": message}])


def escrow_parties_check(
    *,
    escrow_company: Organization,
    escrow_officer: Any,
    parties: dict[str, Organization | None],
    closing_cost_payees: Iterable[Organization],
) -> None:
    """Refuse parties the transaction may not name; make unclaimed households clients of the company.

    Runs inside escrow_create's transaction, so a refusal later on also undoes a claim.
    """
    if not Membership.objects.filter(
        user=escrow_officer, organization=escrow_company, role=Role.ESCROW_OFFICER
    ).exists():
        raise _refuse(
            "escrow_officer",
            "The escrow officer must be an escrow officer of the escrow company named.",
            "officer_not_at_escrow_company",
        )
    named = {name: org for name, org in parties.items() if org is not None}
    for name, org in named.items():
        kinds = _PARTY_KINDS[name]
        if org.kind == OrganizationKind.PLATFORM_OPERATOR or org.pk == escrow_company.pk:
            raise _refuse(name, f"The {name} cannot be the platform or the escrow company.", "invalid_party")
        if kinds is not None and org.kind not in kinds:
            raise _refuse(name, f"The {name} must be a {' or '.join(sorted(kinds))} organization.", "invalid_party")
    households = {org.pk: org for org in named.values() if org.kind == OrganizationKind.INDIVIDUAL}
    for payee in closing_cost_payees:
        # Money may go to a household only when it is a party here: never to a stranger's household.
        if payee.kind == OrganizationKind.INDIVIDUAL and payee.pk not in households:
            raise _refuse("closing_costs.payee", "A closing cost is paid to a business or to a party.", "invalid_party")
    for org in sorted(households.values(), key=lambda o: o.pk):
        try:
            identity_services.organization_claim_client(organization=org, tenant=escrow_company)
        except PermissionDeniedError as exc:
            field = next(name for name, named_org in named.items() if named_org.pk == org.pk)
            exc.errors = [{"field": field, "code": exc.code, "message": exc.detail}]
            raise


def deposit_recorder_check(user: Any, *, escrow_officer_id: int) -> None:
    """No party records money on its own word: only the escrow officer or an operator (wire received)."""
    if user is None or user_is_operator(user) or escrow_officer_id == getattr(user, "pk", None):
        return
    raise PermissionDeniedError(
        "Deposits are recorded by the escrow officer or an operator once the money has arrived; "
        "parties pay through the payment instructions.",
        code="deposit_not_allowed",
    )


# --- who a transaction's people are ------------------------------------------------------------
#
# The one party predicate (docs/decisions/0901-party-pages.md): the list and the pages, the API,
# the services' party checks and the audit trail and live pages all ask it. A user is a party
# through membership of a named organization, or as the escrow officer; an assigned verifier is not
# a party but may see what concerns their task.

# The named organizations, in the order a page picks a user's view when they hold several.
PARTY_FIELDS: tuple[str, ...] = ("buyer", "seller", "buyer_agent", "seller_agent", "lender", "escrow_company")
VERIFIER = "verifier"
ESCROW_OFFICER = "escrow_officer"


def escrow_party_q(user: Any, *, verifiers: bool = False) -> Q:
    """The transactions `user` is a party to (with `verifiers`, also those they verify), as a filter.

    Operators are not parties: callers that let operators see everything say so themselves.
    """
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    orgs = organization_ids_for_user(user)
    q = Q(escrow_officer_id=user.pk)
    for name in PARTY_FIELDS:
        q |= Q(**{f"{name}_id__in": orgs})
    if verifiers and orgs:
        q |= Q(Exists(VerificationTask.objects.filter(workflow_id=OuterRef("workflow_id"), agent_id__in=orgs)))
    return q


def party_roles(user: Any, txn: Any, *, verifiers: bool = True, orgs: set[int] | None = None) -> list[str]:
    """Every role `user` holds on `txn`: PARTY_FIELDS order (the officer before the company), then verifier.

    `orgs`: the user's organization ids when the caller already has them (a list of many deals).
    """
    if not getattr(user, "is_authenticated", False):
        return []
    orgs = organization_ids_for_user(user) if orgs is None else orgs
    roles = [name for name in PARTY_FIELDS if getattr(txn, f"{name}_id") in orgs]
    if txn.escrow_officer_id == user.pk:
        # The officer's own deal reads as the officer's, not as any colleague's at the company.
        roles.insert(roles.index("escrow_company") if "escrow_company" in roles else len(roles), ESCROW_OFFICER)
    if (
        verifiers
        and txn.workflow_id
        and orgs
        and VerificationTask.objects.filter(workflow_id=txn.workflow_id, agent_id__in=orgs).exists()
    ):
        roles.append(VERIFIER)
    return roles


def user_is_party(user: Any, txn: Any) -> bool:
    """A party (a member of a named organization, or the escrow officer): not merely a verifier."""
    return bool(party_roles(user, txn, verifiers=False))
