"""Partner API keys: shown once, stored hashed, scoped, read-only when asked, rotatable, revocable, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from identity.api_keys import key_digest
from identity.models import ApiKey, Organization, OrganizationKind, Role
from tests.factories import OrganizationFactory, member, operator

pytestmark = pytest.mark.django_db


def _keyed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def employer() -> Organization:
    return OrganizationFactory.create(kind=OrganizationKind.EMPLOYER)


@pytest.fixture
def admin_client(employer, client_for):
    return client_for(member(Role.ORG_ADMIN, employer))


def _issue(admin_client, employer, **fields):
    body = {"name": "payroll sync", "scopes": [Role.EMPLOYER_HR], **fields}
    response = admin_client.post(f"/api/v1/organizations/{employer.public_id}/api-keys/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_issued_key_is_shown_once_stored_hashed_and_opens_the_api_as_its_organization(admin_client, employer):
    issued = _issue(admin_client, employer)
    key = issued["key"]
    assert key.startswith(f"esk_{issued['hint'][4:16]}_")
    row = ApiKey.objects.get(public_id=issued["id"])
    assert row.key_digest == key_digest(key)
    assert key not in str(row.__dict__)

    listed = admin_client.get(f"/api/v1/organizations/{employer.public_id}/api-keys/").json()
    assert [k["id"] for k in listed] == [issued["id"]]
    assert "key" not in listed[0]

    me = _keyed(key).get("/api/v1/me/")
    assert me.status_code == 200
    orgs = _keyed(key).get("/api/v1/organizations/").json()
    assert [o["id"] for o in orgs["results"]] == [str(employer.public_id)]


def test_a_wrong_secret_or_unknown_key_is_a_401_problem(admin_client, employer):
    key = _issue(admin_client, employer)["key"]
    for bad in (key[:-1] + ("A" if key[-1] != "A" else "B"), "esk_000000000000_nope"):
        response = _keyed(bad).get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_read_only_key_reads_but_cannot_write(admin_client, employer):
    key = _issue(admin_client, employer, read_only=True)["key"]
    assert _keyed(key).get("/api/v1/me/").status_code == 200
    refused = _keyed(key).post("/api/v1/organizations/", {"name": "x", "kind": "employer"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert not Organization.objects.filter(name="x").exists()


def test_scopes_are_business_roles_only(admin_client, employer):
    for scopes in ([Role.ORG_ADMIN], [Role.OPERATOR], ["root"], []):
        response = admin_client.post(
            f"/api/v1/organizations/{employer.public_id}/api-keys/", {"name": "k", "scopes": scopes}, format="json"
        )
        assert response.status_code in (400, 422), scopes
        assert not ApiKey.objects.exists()


def test_a_key_cannot_mint_keys_and_strangers_do_not_see_the_organizations_keys(admin_client, employer, client_for):
    key = _issue(admin_client, employer)["key"]
    path = f"/api/v1/organizations/{employer.public_id}/api-keys/"
    assert _keyed(key).post(path, {"name": "more", "scopes": [Role.EMPLOYER_HR]}, format="json").status_code == 404
    stranger = client_for(member(Role.ORG_ADMIN, OrganizationFactory.create(kind=OrganizationKind.EMPLOYER)))
    assert stranger.get(path).status_code == 404
    hr_of_same_employer = client_for(member(Role.EMPLOYER_HR, employer))
    assert hr_of_same_employer.get(path).status_code == 404


def test_revoking_stops_the_key_at_once_and_is_audited(admin_client, employer):
    issued = _issue(admin_client, employer)
    assert _keyed(issued["key"]).get("/api/v1/me/").status_code == 200
    revoked = admin_client.post(f"/api/v1/api-keys/{issued['id']}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert _keyed(issued["key"]).get("/api/v1/me/").status_code == 401
    kinds = list(AuditEvent.objects.filter(subject_id=str(employer.public_id)).values_list("kind", flat=True))
    assert "identity.api_key_issued" in kinds
    assert "identity.api_key_revoked" in kinds
    assert not any(issued["key"] in str(e.payload) for e in AuditEvent.objects.all())


def test_rotation_gives_a_successor_and_the_old_key_works_only_through_the_grace_period(admin_client, employer):
    old = _issue(admin_client, employer)
    rotated = admin_client.post(f"/api/v1/api-keys/{old['id']}/rotate/", {"grace_hours": 1}, format="json")
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["key"] != old["key"]
    assert new["rotated_from"] == old["id"]
    assert new["scopes"] == old["scopes"]
    assert _keyed(new["key"]).get("/api/v1/me/").status_code == 200
    assert _keyed(old["key"]).get("/api/v1/me/").status_code == 200  # inside the grace period

    ApiKey.objects.filter(public_id=old["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _keyed(old["key"]).get("/api/v1/me/").status_code == 401
    assert _keyed(new["key"]).get("/api/v1/me/").status_code == 200
    again = admin_client.post(f"/api/v1/api-keys/{old['id']}/rotate/", {"grace_hours": 0}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "api_key_retired"


def test_an_operator_may_issue_for_any_organization(employer, client_for):
    response = client_for(operator()).post(
        f"/api/v1/organizations/{employer.public_id}/api-keys/",
        {"name": "ops", "scopes": [Role.EMPLOYER_HR]},
        format="json",
    )
    assert response.status_code == 201
