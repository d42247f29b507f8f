from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.selectors import invariants_check
from tests.transactions.factories import World, make_world


@pytest.fixture(autouse=True)
def _ledger_invariants_hold(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that touched the database, the books still balance."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db", "world", "live_server"} & set(request.fixturenames)
    if uses_db:
        # Requested first so that this check runs before the database is rolled back or flushed.
        transactional = (
            (marker is not None and marker.kwargs.get("transaction"))
            or "transactional_db" in request.fixturenames
            or "live_server" in request.fixturenames
        )
        request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    if uses_db:
        report = invariants_check()
        assert report.ok, report.breaches


@pytest.fixture
def world(db: None) -> World:
    return make_world()
