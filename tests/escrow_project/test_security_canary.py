"""A canary written through every encrypted field of every model never appears in the raw database,
in the logs, or in API error bodies. Models are discovered from the app registry, so models other apps
add later are covered without editing this test."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from django.conf import settings
from django.db import connection

from escrow_project.common.crypto.cipher import is_encrypted
from tests.escrow_project.crypto.canary import (
    CANARY_TEXT,
    NEEDLES,
    TOKEN,
    build_with_canaries,
    canary_for,
    encrypted_models,
)
from tests.factories import operator

MODELS = sorted(encrypted_models().items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged during the test, rendered by the project's own formatter (redaction included)."""
    config = dict(settings.LOGGING["formatters"]["structured"])
    formatter_class = config.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_class(**config))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def _raw_database_text() -> str:
    """Every cell of every table, read with SQL, as one string."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for cell in row:
                    chunks.append(
                        bytes(cell).decode(errors="replace") if isinstance(cell, bytes | memoryview) else str(cell)
                    )
    return "\n".join(chunks)


def test_the_registry_finds_the_encrypted_fields_of_identity():
    labels = {model._meta.label_lower: {f.name for f in fields} for model, fields in MODELS}
    assert labels["identity.user"] == {"first_name", "last_name", "email"}


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "fields"), MODELS, ids=[m._meta.label for m, _ in MODELS])
def test_canary_never_stored_or_logged_in_clear(model, fields, captured_logs):
    instance = build_with_canaries(model, fields)

    # Careless code logs personal values by key, nested, and in free text (structlog and stdlib).
    log = structlog.get_logger("tests.canary")
    for field in fields:
        log.info("personal_value_written", model=model._meta.label, **{field.name: canary_for(field)})
    log.warning("nested", payload={"contact": {"email": CANARY_TEXT}}, note=f"wrote {CANARY_TEXT} for you")
    logging.getLogger("tests.canary.stdlib").error("stdlib line mentioning %s", CANARY_TEXT)

    raw = _raw_database_text()
    for needle in NEEDLES:
        assert needle not in raw, f"{needle!r} stored in clear by {model._meta.label}"

    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        cursor.execute(
            f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s",
            [instance.pk],
        )
        stored = cursor.fetchone()
    assert all(is_encrypted(value) for value in stored), stored

    reloaded = model._base_manager.get(pk=instance.pk)
    assert {f.name: getattr(reloaded, f.name) for f in fields} == {f.name: canary_for(f) for f in fields}

    output = captured_logs.getvalue()
    assert "personal_value_written" in output  # the handler really captured the lines
    assert "stdlib line mentioning" in output
    assert TOKEN not in output


@pytest.mark.django_db
def test_canary_never_echoed_in_api_error_bodies(client_for, api_client, captured_logs):
    staff = client_for(operator())
    attempts: list[Any] = [
        # An invalid choice: DRF's message quotes the submitted value.
        staff.post("/api/v1/organizations/", {"name": CANARY_TEXT, "kind": CANARY_TEXT}, format="json"),
        staff.post(
            "/api/v1/organizations/", {"name": "x" * 300, "kind": "brokerage", "slug": CANARY_TEXT}, format="json"
        ),
        staff.get(f"/api/v1/organizations/{CANARY_TEXT}/"),
        api_client.post("/api/v1/auth/token/", {"username": CANARY_TEXT, "password": CANARY_TEXT}, format="json"),
        staff.post("/api/v1/organizations/", data=f'{{"name": "{CANARY_TEXT}", ', content_type="application/json"),
    ]
    for response in attempts:
        assert response.status_code >= 400
        assert TOKEN not in response.content.decode(), response.content
    assert TOKEN not in captured_logs.getvalue()
    # Nor in metrics labels, which requests (and their paths) have just passed through.
    metrics = api_client.get("/metrics")
    assert metrics.status_code == 200
    assert b"django_http_requests" in metrics.content
    assert TOKEN.encode() not in metrics.content


@pytest.mark.django_db
def test_stored_idempotent_responses_do_not_hold_personal_data_in_clear(client_for):
    staff = client_for(operator())
    response = staff.post(
        "/api/v1/organizations/",
        {"name": f"{TOKEN} household", "kind": "individual"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"canary-{TOKEN}",
    )
    assert response.status_code == 201
    replay = staff.post(
        "/api/v1/organizations/",
        {"name": f"{TOKEN} household", "kind": "individual"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"canary-{TOKEN}",
    )
    assert replay.content == response.content  # the replay is still byte-identical
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM common_idempotencyrecord")
        bodies = [row[0] for row in cursor.fetchall()]
    assert bodies
    assert all(is_encrypted(body) and TOKEN not in body for body in bodies)
