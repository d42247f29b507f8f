"""An operator signs in to the console and finds an organization, in a real browser."""

from __future__ import annotations

import pytest

from identity.models import User
from tests.factories import OrganizationFactory


@pytest.mark.django_db(transaction=True)
def test_operator_signs_in_and_searches_organizations(live_server, page, tmp_path):
    User.objects.create_superuser("console-op", "op@example.test", "a-long-operator-password")
    OrganizationFactory.create(name="Lakeside Community Bank", slug="lakeside")
    OrganizationFactory.create(name="Summit Appraisal Group", slug="summit")

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "console-op")
    page.fill("#id_password", "a-long-operator-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/identity/organization/")
    page.fill("#searchbar", "Lakeside")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Lakeside Community Bank" in rows.first.inner_text()
    page.screenshot(path=str(tmp_path / "organizations.png"))


@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused_in_the_browser(live_server, page):
    User.objects.create_superuser("console-op2", "op2@example.test", "a-long-operator-password")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "console-op2")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    assert "Please enter the correct username and password" in page.locator(".errornote").inner_text()
    assert "/admin/login/" in page.url
