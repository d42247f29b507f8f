"""The API's outer guard: whatever arrives and whatever breaks, /api/ answers problem JSON."""

from __future__ import annotations

import asyncio
import importlib
import json

import pytest
from django.urls import clear_url_caches, include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.api_guard import limit_asgi_body
from tests.factories import operator


class BrokenView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug")


class EchoView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        return Response({"keys": sorted(request.data)})


urlpatterns = [
    path("api/v1/broken/", BrokenView.as_view()),
    path("api/v1/echo/", EchoView.as_view()),
    path("", include("escrow_project.urls")),
]


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_with_debug_on_api_errors_are_problem_json_not_debug_pages(client, settings):
    settings.DEBUG = True
    client.raise_request_exception = False
    missing = client.get("/api/v1/no-such-thing/")
    assert _problem(missing, 404)["code"] == "not_found"
    assert b"DATABASE" not in missing.content
    assert b"urlpatterns" not in missing.content
    assert _problem(client.post("/api/nothing-here"), 404)["code"] == "not_found"  # no APPEND_SLASH error
    broken = client.get("/api/v1/broken/")
    body = _problem(broken, 500)
    assert body["code"] == "internal_error"
    assert body["request_id"] == broken["X-Request-ID"]
    assert b"Traceback" not in broken.content


@pytest.mark.django_db
def test_an_unmatched_api_post_is_a_404_problem_not_a_csrf_page():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/api/v1/escrow/transactions/not-a-uuid/cancel/", {})
    assert _problem(response, 404)["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_500_is_still_signalled_for_logging_and_error_reporting(client):
    with pytest.raises(RuntimeError, match="a bug"):  # the test client re-raises what was signalled
        client.get("/api/v1/broken/")


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    "raw",
    [
        b'{"a\\u0000": 1}',
        b'{"a": "\\ud800"}',
        b'{"a": NaN}',
        b'{"a": -Infinity}',
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a": "\xff"}',
    ],
)
def test_unstorable_or_hostile_json_is_a_400_problem(client, raw):
    body = _problem(client.post("/api/v1/echo/", raw, content_type="application/json"), 400)
    assert body["code"] == "malformed_request"


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_nul_in_a_form_field_or_the_path_is_a_400_problem(client):
    form = client.post("/api/v1/echo/", "a=%00", content_type="application/x-www-form-urlencoded")
    assert _problem(form, 400)["code"] == "malformed_request"
    assert _problem(client.get("/api/v1/organizations/%00/"), 400)["code"] == "malformed_request"
    assert client.post("/api/v1/echo/", {"fine": "yes"}, content_type="application/json").json() == {"keys": ["fine"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/organizations/?name=%00",
        "/api/v1/escrow/transactions/?reference=%00",
        "/api/v1/endorsements/?state=%00",
        "/api/v1/notifications/?status=%00",
        "/api/v1/ledger/history?currency=%00",
        "/api/v1/%00",
    ],
)
def test_nul_in_any_query_is_refused_before_a_view_runs(client_for, url):
    assert _problem(client_for(operator()).get(url), 400)["code"] == "malformed_request"


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_413_problem_on_its_declared_length(client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = client_for(operator())
    body = json.dumps({"name": "x" * 2000, "kind": "brokerage"})
    response = client.post("/api/v1/organizations/", body, content_type="application/json")
    problem = _problem(response, 413)
    assert problem["code"] == "request_too_large"
    # A lying, giant Content-Length is refused too, without int() of its thousands of digits.
    huge = client.post("/api/v1/organizations/", "{}", content_type="application/json", CONTENT_LENGTH="9" * 5000)
    assert _problem(huge, 413)["code"] == "request_too_large"


def _asgi_call(app, *, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    received: list[dict] = []
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        message = pending.pop(0) if pending else {"type": "http.disconnect"}
        received.append(message)
        return message

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return received, sent


def test_under_asgi_an_oversized_body_is_refused_before_django_reads_it(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    calls: list[str] = []

    async def django_app(scope, receive, send):
        calls.append("django")
        while (await receive()).get("type") == "http.request":
            pass

    guarded = limit_asgi_body(django_app)
    json_type = (b"content-type", b"application/json")
    # Declared too large: answered at once, nothing read, Django never called.
    received, sent = _asgi_call(
        guarded, path="/api/v1/organizations/", headers=[json_type, (b"content-length", b"5000")], chunks=[b"x"] * 5
    )
    assert (calls, received) == ([], [])
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "request_too_large"
    # Chunked, no length: cut off at the first chunk past the limit.
    received, sent = _asgi_call(guarded, path="/api/v1/organizations/", headers=[json_type], chunks=[b"x" * 600] * 5)
    assert len(received) == 2
    assert sent[0]["status"] == 413
    # Not an API path: untouched.
    calls.clear()
    _asgi_call(guarded, path="/escrow/login/", headers=[], chunks=[b"x" * 600] * 5)
    assert calls == ["django"]


@pytest.mark.django_db
def test_api_docs_follow_the_setting(client, settings):
    import escrow_project.urls

    try:
        settings.API_DOCS_ENABLED = False
        clear_url_caches()
        importlib.reload(escrow_project.urls)
        assert _problem(client.get("/api/schema/"), 404)["code"] == "not_found"
        assert client.get("/api/docs/").status_code == 404
    finally:
        settings.API_DOCS_ENABLED = True
        importlib.reload(escrow_project.urls)
        clear_url_caches()
    assert client.get("/api/schema/").status_code == 200
