from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from audit import access, selectors
from audit.models import Anchor, AuditEvent
from audit.services import event_record

SUBJECT = "test_case"


@pytest.fixture
def case_access() -> Iterator[dict[str, set[int]]]:
    """A made-up subject type: `allowed[subject_id]` holds the user ids that are parties to it."""
    allowed: dict[str, set[int]] = {}
    access.register_subject_access(SUBJECT, lambda user, subject_id: user.pk in allowed.get(subject_id, set()))
    yield allowed
    access.unregister_subject_access(SUBJECT)


@pytest.fixture
def in_process_chain(settings: Any) -> Iterator[Any]:
    """A fresh in-process eth-tester chain with AuditAnchor deployed (the development default)."""
    from audit import breaker, chain

    settings.CHAIN_RPC_URL = ""
    chain.reset_client()
    breaker.record_success()
    client = chain.client()
    yield client
    chain.reset_client()


def eth_tester_rpc(client: Any) -> Callable[[str, list[Any]], Any]:
    """The JSON-RPC calls the verifier makes, answered by the in-process chain in wire format."""
    from audit.chain import web3_rpc

    return web3_rpc(client)


def record_events(subject_id: str, n: int, *, kind: str = "escrow.updated") -> list[AuditEvent]:
    return [
        event_record(
            kind=kind,
            subject_type=SUBJECT,
            subject_id=subject_id,
            actor="system:test",
            payload={"step": i, "amount": "100.0000"},
        )
        for i in range(n)
    ]


def bundle_for(subject_id: str) -> dict[str, Any]:
    from tests.factories import operator

    return selectors.bundle_for_subject(operator(), SUBJECT, subject_id)


def anchor_now() -> Anchor:
    from audit.tasks import anchor_tree_head

    anchor_tree_head()
    anchor = Anchor.objects.order_by("-id").first()
    assert anchor is not None
    return anchor
