from __future__ import annotations

import pytest

from tests.factories import member, operator


@pytest.mark.django_db
def test_request_id_is_taken_from_the_caller_and_echoed(client_for):
    response = client_for(member()).get("/api/v1/me/", HTTP_X_REQUEST_ID="trace-abc-12345")
    assert response["X-Request-ID"] == "trace-abc-12345"


@pytest.mark.django_db
def test_unsafe_request_id_is_replaced(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="bad\nid injected into logs")
    assert response["X-Request-ID"] != "bad\nid injected into logs"
    assert len(response["X-Request-ID"]) == 36


@pytest.mark.django_db
def test_unknown_api_path_is_a_problem_document(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert response.json()["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_malformed_json_is_a_clear_400(client_for):
    client = client_for(operator())
    response = client.generic("POST", "/api/v1/organizations/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


@pytest.mark.django_db
def test_metrics_endpoint_exports_prometheus_text(client):
    client.get("/health/live")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


@pytest.mark.django_db
def test_openapi_schema_and_offline_swagger_ui(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/organizations/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content


@pytest.mark.django_db
def test_metrics_are_hidden_from_other_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 404
    assert b"django_http" not in response.content


@pytest.mark.django_db
def test_metrics_open_to_the_scrape_token_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guessed")
    assert allowed.status_code == 200
    assert b"django_http_requests_total_by_method_total" in allowed.content
    assert refused.status_code == 404
