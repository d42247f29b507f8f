"""Bounded property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation is called with generated input as an operator, a buyer and an employer's HR user,
in process (WSGI) against the test database; each response must not be a server error, and its
status code, content type and body must be the ones the schema documents. The examples per
operation are few and derandomized so the run is bounded and repeatable (FUZZ_EXAMPLES widens it).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import bearer_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _raw_schema() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


@pytest.fixture
def api_schema() -> Any:
    # Examples and generated input only: the coverage phase makes every boundary case of every
    # field whatever max_examples says, which alone takes minutes (run it with FUZZ_COVERAGE=1).
    phases = {"coverage": {"enabled": os.environ.get("FUZZ_COVERAGE") == "1"}}
    config = SchemathesisConfig.from_dict({"phases": phases})
    return schemathesis.openapi.from_dict(_raw_schema(), config=config)


@pytest.fixture
def wsgi_app(db: None) -> Any:
    """Django's WSGI app on the test database's connection: as Django's test client does, the
    request signals must not close it (the test's transaction, and its data, would go)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def role_headers(db: None) -> dict[str, dict[str, str]]:
    from tests.endorsements.conftest import make_world as endorsements_world
    from tests.transactions.factories import make_escrow
    from tests.transactions.factories import make_world as escrow_world

    escrow = escrow_world()
    make_escrow(escrow)
    hr = endorsements_world().hr
    return {
        name: {"Authorization": bearer_for(user)}
        for name, user in (("operator", escrow.operator), ("buyer", escrow.buyer_user), ("hr", hr))
    }


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_as_documented(
    case: Any, wsgi_app: Any, role_headers: dict[str, dict[str, str]]
):
    for headers in role_headers.values():
        response = case.call(app=wsgi_app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
