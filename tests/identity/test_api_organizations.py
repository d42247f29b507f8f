"""Organizations are scoped: what a caller may not see does not exist for them."""

from __future__ import annotations

import pytest

from identity.models import Organization
from tests.factories import OrganizationFactory, member, operator

pytestmark = pytest.mark.django_db


def test_user_sees_own_organization_but_gets_404_for_another(client_for):
    mine, theirs = OrganizationFactory.create(), OrganizationFactory.create()
    client = client_for(member(organization=mine))
    assert client.get(f"/api/v1/organizations/{mine.public_id}/").status_code == 200
    response = client.get(f"/api/v1/organizations/{theirs.public_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert theirs.name not in response.content.decode()


def test_list_shows_only_own_organizations(client_for):
    mine = OrganizationFactory.create()
    OrganizationFactory.create_batch(3)
    body = client_for(member(organization=mine)).get("/api/v1/organizations/").json()
    assert [row["id"] for row in body["results"]] == [str(mine.public_id)]


def test_operator_sees_every_organization_paginated_with_link_header(client_for):
    OrganizationFactory.create_batch(5)
    client = client_for(operator())
    response = client.get("/api/v1/organizations/?page_size=2")
    assert response.status_code == 200
    assert response.json()["count"] == 6
    assert 'rel="next"' in response["Link"]
    assert 'rel="last"' in response["Link"]
    assert "page=3" in response["Link"]


def test_non_operator_cannot_create_organizations_and_nothing_is_created(client_for):
    client = client_for(member())
    before = Organization.objects.count()
    response = client.post("/api/v1/organizations/", {"name": "Rogue", "kind": "lender"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Organization.objects.count() == before


def test_validation_error_names_each_field(client_for):
    response = client_for(operator()).post("/api/v1/organizations/", {"kind": "spaceship"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert {e["field"] for e in body["errors"]} == {"name", "kind"}
    assert "name" in body["detail"]


def test_duplicate_slug_is_a_conflict(client_for):
    OrganizationFactory.create(slug="taken")
    response = client_for(operator()).post("/api/v1/organizations/", {"name": "X", "kind": "lender", "slug": "taken"})
    assert response.status_code == 409
    assert response.json()["code"] == "organization_exists"


@pytest.mark.django_db
def test_a_name_without_letters_or_digits_needs_an_explicit_slug(client_for):
    client = client_for(operator())
    refused = client.post("/api/v1/organizations/", {"name": "'\u0089", "kind": "brokerage"}, format="json")
    assert refused.status_code == 422
    assert refused.json()["code"] == "slug_required"
    assert not Organization.objects.filter(slug="").exists()
    named = client.post("/api/v1/organizations/", {"name": "'", "kind": "brokerage", "slug": "quote"}, format="json")
    assert named.status_code == 201
