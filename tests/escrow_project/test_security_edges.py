"""The API's edges and the leak guards: CORS for partner origins only, security headers, log
redaction, scrubbed error bodies, formula-safe CSV, masked admin lists with an audited reveal, and
identity's encrypted personal fields (login still works)."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
import structlog
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.admin_masking import mask_value
from escrow_project.common.csv_safe import SafeCsvWriter, csv_response, safe_cell
from escrow_project.common.errors import UnprocessableError
from escrow_project.common.redaction import REDACTED, redact_event
from escrow_project.common.signals import personal_value_revealed
from identity.models import User
from identity.selectors import user_find_by_email
from tests.factories import TEST_PASSWORD, UserFactory, member, operator

PARTNER = "https://partner.example.com"


class EchoingView(APIView):
    """Careless code: messages that quote what the caller sent."""

    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        data: dict[str, str] = dict(request.data)
        value = str(data.get("national_id", ""))
        if data.get("how") == "django":
            raise DjangoValidationError({"national_id": [f"{value} is not a valid national id."]})
        raise UnprocessableError(f"National id {value} is blocked.", code="unprocessable")


urlpatterns = [path("api/v1/echo/", EchoingView.as_view())]


# --- CORS and headers -------------------------------------------------------------------------
@pytest.mark.django_db
def test_cors_answers_configured_partner_origins_only(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [PARTNER]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST", "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization"}
    allowed = client.options("/api/v1/me/", HTTP_ORIGIN=PARTNER, **preflight)
    assert allowed["Access-Control-Allow-Origin"] == PARTNER
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    refused = client.options("/api/v1/me/", HTTP_ORIGIN="https://evil.example", **preflight)
    assert "Access-Control-Allow-Origin" not in refused
    assert "Access-Control-Allow-Credentials" not in allowed


@pytest.mark.django_db
def test_html_pages_carry_a_csp_and_api_responses_are_not_cached(client, client_for):
    page = client.get("/admin/login/")
    assert "default-src 'self'" in page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    api = client_for(member()).get("/api/v1/me/")
    assert api["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" not in api


# --- redaction --------------------------------------------------------------------------------
def test_redaction_masks_personal_keys_and_values_but_keeps_the_rest():
    event = redact_event(
        None,
        "info",
        {
            "event": "paid jane.doe@example.com on +44 20 7946 0958 to GB82 WEST 1234 5698 7654 32",
            "date_of_birth": "1980-02-03",
            "DOB": "1980-02-03",
            "Authorization": "Bearer abc.def",
            "webhook_secret": "s3cr3t",
            "payload": {"bank": {"iban": "DE89370400440532013000", "routing_number": "021000021"}, "amount": "10.00"},
            "contacts": [{"phone_number": "555-123-4567"}, "call (555) 123-4567"],
            "timestamp": "2026-11-23T10:00:00Z",
            "escrow_id": "7a1c7d7e-0b8b-4b35-9a86-0c5f3b1b9d10",
            "amount": "1500.00",
            "duration_ms": 12345678,
        },
    )
    assert event["event"] == f"paid {REDACTED} on {REDACTED} to {REDACTED}"
    for key in ("date_of_birth", "DOB", "Authorization", "webhook_secret"):
        assert event[key] == REDACTED
    assert event["payload"] == {"bank": {"iban": REDACTED, "routing_number": REDACTED}, "amount": "10.00"}
    assert event["contacts"] == [{"phone_number": REDACTED}, f"call {REDACTED}"]
    assert event["timestamp"] == "2026-11-23T10:00:00Z"
    assert event["escrow_id"] == "7a1c7d7e-0b8b-4b35-9a86-0c5f3b1b9d10"
    assert event["amount"] == "1500.00"
    assert event["duration_ms"] == 12345678


@pytest.mark.urls(__name__)
@pytest.mark.django_db
@pytest.mark.parametrize("how", ["domain", "django"])
def test_error_bodies_never_echo_submitted_values(api_client, how):
    response = api_client.post("/api/v1/echo/", {"national_id": "AB-987-654-C", "how": how}, format="json")
    assert response.status_code in (400, 422)
    assert "AB-987-654-C" not in response.content.decode()
    assert REDACTED in response.content.decode()


# --- CSV --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ann Smith", "Ann Smith"),
        (Decimal("-12.50"), Decimal("-12.50")),
        (-3, -3),
        (None, ""),
        (datetime.date(2026, 1, 2), "2026-01-02"),
    ],
)
def test_csv_cells_cannot_become_formulas(value, expected):
    assert safe_cell(value) == expected


def test_csv_writer_and_response_apply_the_guard_to_every_cell():
    buffer = io.StringIO()
    SafeCsvWriter(buffer).writerows([["name", "note"], ["Ann", "=1+1"]])
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [["name", "note"], ["Ann", "'=1+1"]]
    response = csv_response("export.csv", ["a"], [["@x"], [Decimal("-1")]])
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    assert body.splitlines() == ["a", "'@x", "-1"]
    assert response["Content-Disposition"] == 'attachment; filename="export.csv"'


# --- admin masking ----------------------------------------------------------------------------
def test_masks_give_a_hint_never_the_value():
    assert mask_value("jane.doe@example.com") == "j***@e***"
    assert mask_value("DE89370400440532013000") == "********00"
    assert mask_value("Jane") == "****"
    assert mask_value("Margaret") == "M***"
    assert mask_value(datetime.date(1980, 2, 3)) == "****-**-**"
    assert mask_value("") == "—"


def console_operator() -> User:
    """An operator with the admin permissions the console needs."""
    user = operator()
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    return user


@pytest.fixture
def person() -> User:
    return UserFactory.create(first_name="Margaret", last_name="Hamilton", email="margaret.h@example.test")


@pytest.mark.django_db
def test_admin_user_list_is_masked(client, person):
    client.force_login(console_operator())
    page = client.get("/admin/identity/user/").content.decode()
    assert person.username in page
    for secret in ("Margaret", "Hamilton", "margaret.h@example.test"):
        assert secret not in page
    assert "M***" in page


@pytest.mark.django_db
def test_admin_change_page_masks_and_does_not_expose_the_value_in_a_form(client, person):
    client.force_login(console_operator())
    page = client.get(f"/admin/identity/user/{person.pk}/change/").content.decode()
    assert "margaret.h@example.test" not in page
    assert "Hamilton" not in page
    assert f"/admin/identity/user/{person.pk}/reveal/email/" in page


@pytest.mark.django_db
def test_operator_reveals_one_value_and_the_reveal_is_recorded(client, person):
    client.force_login(console_operator())
    url = f"/admin/identity/user/{person.pk}/reveal/email/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "margaret.h@example.test" not in confirm.content.decode()  # GET only asks
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs["instance"].pk, kwargs["field_name"], kwargs["operator"].pk))

    personal_value_revealed.connect(receiver)
    try:
        with structlog.testing.capture_logs() as logs:
            revealed = client.post(url)
    finally:
        personal_value_revealed.disconnect(receiver)
    assert revealed.status_code == 200
    assert received == [(User, person.pk, "email", revealed.wsgi_request.user.pk)]
    assert "margaret.h@example.test" in revealed.content.decode()
    assert "Hamilton" not in revealed.content.decode()  # one value, not the record
    assert "no-store" in revealed["Cache-Control"]
    reveal_events = [e for e in logs if e["event"] == "personal_value_revealed"]
    assert reveal_events == [
        {
            "event": "personal_value_revealed",
            "log_level": "info",
            "model": "identity.user",
            "object_pk": str(person.pk),
            "field": "email",
            "operator_id": revealed.wsgi_request.user.pk,
        }
    ]


@pytest.mark.django_db
def test_staff_who_are_not_operators_cannot_reveal(client, person):
    staff = UserFactory.create(is_staff=True, is_superuser=False)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(staff)
    with structlog.testing.capture_logs() as logs:
        response = client.post(f"/admin/identity/user/{person.pk}/reveal/email/")
    assert response.status_code == 403
    assert not [e for e in logs if e["event"] == "personal_value_revealed"]


@pytest.mark.django_db
def test_unmasked_field_cannot_be_revealed_through_the_url(client, person):
    client.force_login(console_operator())
    assert client.post(f"/admin/identity/user/{person.pk}/reveal/password/").status_code == 404


# --- identity's personal fields ----------------------------------------------------------------
@pytest.mark.django_db
def test_login_and_profile_work_with_encrypted_names_and_email(api_client, client_for):
    user = UserFactory.create(first_name="Ada", last_name="Quinn", email="ada.quinn@example.test")
    token = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": TEST_PASSWORD}, format="json"
    )
    assert token.status_code == 200
    me = client_for(user).get("/api/v1/me/").json()
    assert (me["first_name"], me["last_name"], me["email"]) == ("Ada", "Quinn", "ada.quinn@example.test")
    assert str(user) == user.username  # names never leak through __str__ into logs and lists


@pytest.mark.django_db
def test_user_found_by_exact_email_only():
    user = UserFactory.create(email="ada.quinn@example.test")
    UserFactory.create(email="ada.quinn@example.org")
    assert user_find_by_email(email=" ADA.Quinn@example.test ") == user
    assert user_find_by_email(email="ada.quinn@example") is None
    assert user_find_by_email(email="ada.quinn") is None
    assert user_find_by_email(email="") is None


@pytest.mark.django_db
def test_changing_the_email_keeps_its_index_current():
    user = UserFactory.create(email="old@example.test")
    user.email = "new@example.test"
    user.save(update_fields=["email"])
    assert user_find_by_email(email="new@example.test") == user
    assert user_find_by_email(email="old@example.test") is None


@pytest.mark.django_db
def test_swagger_ui_runs_under_the_csp_without_inline_scripts(client):
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "<script>" not in html  # every script is loaded from a URL the policy allows
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
