"""Who may do what with other people's money: each hole an outside test found, closed and kept closed."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from identity.models import Organization, OrganizationKind, Role
from ledger.models import JournalEntry
from tests.factories import OrganizationFactory, member
from tests.transactions.factories import fund, make_escrow, task_of
from tests.transactions.test_api import BASE, _create_body, _report
from transactions.models import BankDetailsChange, Deposit, EscrowTransaction, PayeeProfile, Payment
from verifications.models import VerificationReport, VerificationTask


def _snapshot() -> tuple[int, int, int, int, int]:
    return (
        JournalEntry.objects.count(),
        VerificationReport.objects.count(),
        Payment.objects.count(),
        Deposit.objects.count(),
        AuditEvent.objects.count(),
    )


# --- verification reports --------------------------------------------------------------------


def test_an_escrow_officer_of_the_agent_company_cannot_report_and_release_its_own_fee(world, client_for):
    """The title company is escrow company and title agent; its officer is not its verifier."""
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "title")
    before = _snapshot()

    response = client_for(world.officer).post(
        f"{BASE}/verifications/{task.public_id}/report/", {"report": _report(txn, "title")}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert _snapshot() == before
    assert VerificationTask.objects.get(pk=task.pk).status == "assigned"


def test_a_verifier_of_the_assigned_agent_reports(world, client_for):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "title")
    verifier = member(Role.VERIFIER, world.title_company)

    response = client_for(verifier).post(
        f"{BASE}/verifications/{task.public_id}/report/", {"report": _report(txn, "title")}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert VerificationTask.objects.get(pk=task.pk).status == "verified"


def test_an_operator_reports_in_the_agents_place_only_with_a_reason_and_it_is_audited(world, client_for):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "title")
    operator = client_for(world.operator)
    before = _snapshot()

    bare = operator.post(
        f"{BASE}/verifications/{task.public_id}/report/", {"report": _report(txn, "title")}, format="json"
    )
    assert (bare.status_code, bare.json()["code"]) == (422, "operator_reason_required")
    assert _snapshot() == before

    reasoned = operator.post(
        f"{BASE}/verifications/{task.public_id}/report/",
        {"report": _report(txn, "title"), "operator_reason": "Agent's portal is down; report received by e-mail"},
        format="json",
    )
    assert reasoned.status_code == 201, reasoned.json()
    event = AuditEvent.objects.get(kind="verification.report_submitted", subject_id=str(txn.public_id))
    assert event.payload["operator"] == f"user:{world.operator.public_id}"
    assert event.payload["operator_reason"] == "Agent's portal is down; report received by e-mail"


def test_another_agents_verifier_does_not_even_see_the_task(world, client_for):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "title")
    before = _snapshot()

    response = client_for(world.inspector_user).post(
        f"{BASE}/verifications/{task.public_id}/report/", {"report": _report(txn, "title")}, format="json"
    )
    status = client_for(world.inspector_user).post(
        f"{BASE}/verifications/{task.public_id}/status/", {"status": "failed"}, format="json"
    )

    assert response.status_code == 404
    assert status.status_code == 404
    assert _snapshot() == before


def test_an_officer_of_the_agent_company_cannot_fail_the_task_either(world, client_for):
    txn = fund(world, make_escrow(world))
    task = task_of(txn, "title")

    response = client_for(world.officer).post(
        f"{BASE}/verifications/{task.public_id}/status/", {"status": "failed", "reason": "no"}, format="json"
    )

    assert response.status_code == 403
    assert VerificationTask.objects.get(pk=task.pk).status == "assigned"


# --- deposits --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["buyer_user", "seller_user", "agent", "lender_user"])
def test_no_party_records_a_deposit(world, client_for, who):
    txn = fund(world, make_escrow(world))
    users = {
        "agent": member(Role.AGENT, world.buyer_brokerage),
        "lender_user": member(Role.VERIFIER, world.lender),
    }
    user = users.get(who) or getattr(world, who)
    before = _snapshot()

    for kind, amount in [("closing_funds", "500000.00"), ("loan", "300000.00")]:
        response = client_for(user).post(
            f"{BASE}/transactions/{txn.public_id}/deposits/", {"kind": kind, "amount": amount}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (403, "deposit_not_allowed")
    assert _snapshot() == before


# --- bank details ----------------------------------------------------------------------------


def _bank(client, org, account="7770001"):
    return client.post(
        f"{BASE}/payees/{org.public_id}/bank-details/", {"bank_details": {"account_number": account}}, format="json"
    )


def test_a_member_who_is_not_an_admin_cannot_change_bank_details(world, client_for):
    before = PayeeProfile.objects.get(organization=world.inspection_firm).bank_details

    response = _bank(client_for(world.inspector_user), world.inspection_firm)

    assert (response.status_code, response.json()["code"]) == (403, "org_admin_required")
    assert BankDetailsChange.objects.count() == 0
    assert PayeeProfile.objects.get(organization=world.inspection_firm).bank_details == before


def test_a_bank_details_change_needs_a_second_person(world, client_for):
    admin, second = member(Role.ORG_ADMIN, world.inspection_firm), member(Role.ORG_ADMIN, world.inspection_firm)
    before = PayeeProfile.objects.get(organization=world.inspection_firm).bank_details

    proposed = _bank(client_for(admin), world.inspection_firm)
    assert proposed.status_code == 202, proposed.json()
    assert proposed.json()["status"] == "pending"
    assert proposed.json()["account"].endswith("0001")
    assert "7770001" not in proposed.content.decode()
    assert PayeeProfile.objects.get(organization=world.inspection_firm).bank_details == before  # not yet

    change_id = proposed.json()["id"]
    confirm = f"{BASE}/payees/{world.inspection_firm.public_id}/bank-details/{change_id}/confirm/"
    own = client_for(admin).post(confirm)
    assert (own.status_code, own.json()["code"]) == (403, "four_eyes_required")
    assert PayeeProfile.objects.get(organization=world.inspection_firm).bank_details == before
    outsider = client_for(world.appraiser_user).post(confirm)
    assert outsider.status_code == 404

    confirmed = client_for(second).post(confirm)
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["status"] == "confirmed"
    profile = PayeeProfile.objects.get(organization=world.inspection_firm)
    assert profile.bank_details == {"account_number": "7770001"}
    assert profile.cooling_off_until is not None  # a change of existing details: payouts wait

    again = client_for(second).post(confirm)
    assert (again.status_code, again.json()["code"]) == (409, "bank_details_change_closed")


def test_an_operator_confirms_for_a_one_person_organization_and_a_rejection_changes_nothing(world, client_for):
    admin = member(Role.ORG_ADMIN, world.appraiser)
    before = PayeeProfile.objects.get(organization=world.appraiser).bank_details
    first = _bank(client_for(admin), world.appraiser, "1110001").json()["id"]
    base = f"{BASE}/payees/{world.appraiser.public_id}/bank-details/"

    rejected = client_for(world.operator).post(f"{base}{first}/reject/", {"reason": "caller not verified"})
    assert rejected.json()["status"] == "rejected"
    assert PayeeProfile.objects.get(organization=world.appraiser).bank_details == before

    second = _bank(client_for(admin), world.appraiser, "2220002").json()["id"]
    assert client_for(world.operator).post(f"{base}{second}/confirm/").status_code == 200
    assert PayeeProfile.objects.get(organization=world.appraiser).bank_details == {"account_number": "2220002"}
    shown = client_for(admin).get(base).json()
    assert shown["account"].endswith("0002")
    assert [c["status"] for c in shown["changes"]] == ["confirmed", "rejected"]


def test_a_newer_proposal_replaces_a_pending_one(world, client_for):
    admin, second = member(Role.ORG_ADMIN, world.inspection_firm), member(Role.ORG_ADMIN, world.inspection_firm)
    old = _bank(client_for(admin), world.inspection_firm, "3330003").json()["id"]
    _bank(client_for(admin), world.inspection_firm, "4440004")

    stale = client_for(second).post(f"{BASE}/payees/{world.inspection_firm.public_id}/bank-details/{old}/confirm/")

    assert (stale.status_code, stale.json()["code"]) == (409, "bank_details_change_closed")
    assert PayeeProfile.objects.get(organization=world.inspection_firm).bank_details != {"account_number": "3330003"}


# --- who a transaction may name --------------------------------------------------------------


def _other_tenant(world) -> tuple[Organization, object, Organization]:
    """Another escrow company, its officer, and a household it already serves (on one of its deals)."""
    company = OrganizationFactory.create(kind=OrganizationKind.TITLE_COMPANY, name="Rival Escrow")
    officer = member(Role.ESCROW_OFFICER, company)
    household = OrganizationFactory.create(kind=OrganizationKind.INDIVIDUAL, name="Other household")
    make_escrow(world, buyer=household, escrow_company=company, escrow_officer=officer, created_by=officer)
    return company, officer, household


def test_an_officer_cannot_name_another_escrow_company(world, client_for):
    company, _, _ = _other_tenant(world)
    before = EscrowTransaction.objects.count()

    response = client_for(world.officer).post(
        f"{BASE}/transactions/", {**_create_body(world), "escrow_company": str(company.public_id)}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (422, "officer_not_at_escrow_company")
    assert EscrowTransaction.objects.count() == before


def test_an_officer_cannot_name_another_tenants_household(world, client_for):
    _, rival_officer, household = _other_tenant(world)
    before = EscrowTransaction.objects.count()

    response = client_for(world.officer).post(
        f"{BASE}/transactions/", {**_create_body(world), "seller": str(household.public_id)}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (403, "party_of_another_tenant")
    assert response.json()["errors"][0]["field"] == "seller"
    assert EscrowTransaction.objects.count() == before
    assert client_for(rival_officer).get(f"{BASE}/transactions/").json()["count"] == 1


def test_an_unclaimed_household_becomes_the_escrow_companys_client(world, client_for):
    household = OrganizationFactory.create(kind=OrganizationKind.INDIVIDUAL, name="New household")

    response = client_for(world.officer).post(
        f"{BASE}/transactions/", {**_create_body(world), "buyer": str(household.public_id)}, format="json"
    )

    assert response.status_code == 201, response.json()
    household.refresh_from_db()
    assert household.client_of_id == world.title_company.pk


@pytest.mark.parametrize(
    ("field", "kind"),
    [("buyer_agent", OrganizationKind.LENDER), ("lender", OrganizationKind.BROKERAGE), ("seller", "platform")],
)
def test_parties_must_be_of_their_kind(world, client_for, field, kind):
    org = OrganizationFactory.create(
        kind=OrganizationKind.PLATFORM_OPERATOR if kind == "platform" else kind, name="Wrong kind"
    )

    response = client_for(world.officer).post(
        f"{BASE}/transactions/", {**_create_body(world), field: str(org.public_id)}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_party")
    assert response.json()["errors"][0]["field"] == field
    assert EscrowTransaction.objects.count() == 0


def test_a_closing_cost_is_never_paid_to_a_strangers_household(world, client_for):
    household = OrganizationFactory.create(kind=OrganizationKind.INDIVIDUAL, name="Stranger")
    body = _create_body(world)
    body["closing_costs"][0]["payee"] = str(household.public_id)

    response = client_for(world.officer).post(f"{BASE}/transactions/", body, format="json")

    assert (response.status_code, response.json()["code"]) == (422, "invalid_party")
    assert EscrowTransaction.objects.count() == 0
