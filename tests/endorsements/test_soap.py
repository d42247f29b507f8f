"""The SOAP rail against the sandbox insurer's real SOAP server (spyne, serving its WSDL) via zeep."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from endorsements import funds
from endorsements.gateway import GatewayItem, gateway_for
from endorsements.models import Dispatch, EndorsementAccount, EndorsementRequest, GatewayExchange, InsurerProfile
from endorsements.sandbox.server import Config, State
from endorsements.sandbox.soap import serve_soap
from endorsements.services import funding
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from tests.conftest import requires_postgres
from tests.endorsements.conftest import LIVE_TERM, SECRET, World, addition, day, make_world
from tests.endorsements.insurers import send_window, start_responder, wait_for

pytestmark = [requires_postgres]


def _soap_world(wsdl: str) -> World:
    world = make_world(term=LIVE_TERM)
    world.profile.protocol = "soap"
    world.profile.base_url = wsdl
    world.profile.full_clean()
    world.profile.save()
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="t")
    return world


def _serve(config: Config, *, callbacks: bool) -> Iterator[tuple[str, State]]:
    state = State()
    if callbacks:
        start_responder(config, state)
    server = serve_soap("127.0.0.1", 0, config, state)
    yield f"http://127.0.0.1:{server.server_address[1]}/?wsdl", state
    server.shutdown()
    server.server_close()


@pytest.fixture
def soap_insurer(live_server) -> Iterator[tuple[str, State]]:
    """Answers by signed callbacks to the live server; the first new submission gets a Server fault."""
    config = Config(api_key="sandbox-key", secrets=[SECRET], delay_ms=20, fail_first=1, callback_base=live_server.url)
    yield from _serve(config, callbacks=True)


@pytest.fixture
def quiet_insurer() -> Iterator[tuple[str, State]]:
    """Refuses member ids starting with BAD as invalid; sends no callbacks."""
    yield from _serve(
        Config(api_key="sandbox-key", secrets=[SECRET], delay_ms=600_000, invalid_prefix="BAD"), callbacks=False
    )


@pytest.mark.slow  # a SOAP responder process and a real window: about 10 s
@pytest.mark.django_db(transaction=True)
def test_a_mixed_window_round_trips_over_soap(soap_insurer):
    wsdl, _state = soap_insurer
    world = _soap_world(wsdl)
    submit = lambda data: endorsement_submit(employer=world.employer, data=data, actor="t")  # noqa: E731
    for member_id in ("E-1", "E-2", "REJ-3"):
        submit(addition(member_id, effective=day(5), plan="DAY"))

    first = send_window()

    assert (first.status, first.attempts) == (Dispatch.Status.ACKNOWLEDGED, 2)  # a Server fault, then taken

    def answered():
        return not EndorsementRequest.objects.filter(state__in=[RequestState.SENT, RequestState.CONFIRMED]).exists()

    wait_for(answered, "callbacks")
    states = {r.member.member_id: r.state for r in EndorsementRequest.objects.select_related("member")}
    assert states == {"E-1": RequestState.ACTIVE, "E-2": RequestState.ACTIVE, "REJ-3": RequestState.REJECTED}

    # Second window: a deletion and a plan change of the members the first one covered.
    deletion = submit({"policy_number": "GP-1001", "kind": "deletion", "member_id": "E-1", "effective_date": day(30)})
    change = submit(
        {
            "policy_number": "GP-1001",
            "kind": "modification",
            "member_id": "E-2",
            "new_plan": "PLUS",
            "effective_date": day(30),
        }
    )
    assert send_window().status == Dispatch.Status.ACKNOWLEDGED
    wait_for(
        lambda: (
            set(EndorsementRequest.objects.filter(pk__in=[deletion.pk, change.pk]).values_list("state", flat=True))
            == {RequestState.ACTIVE}
        ),
        "the second window's callbacks",
    )
    # Every exchange is stored with its envelopes, as for REST.
    calls = list(GatewayExchange.objects.order_by("pk").values_list("operation", "response_status"))
    assert calls == [("SubmitBatch", 500), ("SubmitBatch", 200), ("SubmitBatch", 200)]
    last = GatewayExchange.objects.order_by("pk").last()
    assert last is not None
    assert "<ns0:idempotency_key>dispatch:" in last.request_body
    ea = EndorsementAccount.objects.get(employer=world.employer)
    assert funds.balance_summary(ea)["locked"] == Decimal(0)


def _item(tracking_id: str, member_id: str = "E-1") -> GatewayItem:
    return GatewayItem(
        tracking_id=tracking_id,
        kind="addition",
        direction="debit",
        amount="10.00",
        currency="USD",
        policy_number="GP-1001",
        member_id=member_id,
        relationship="employee",
        plan="DAY",
        new_plan="",
        effective_date=day(5),
    )


def test_a_replayed_key_is_answered_from_the_first_submission_and_a_reused_one_refused(db, quiet_insurer):
    wsdl, state = quiet_insurer
    world = _soap_world(wsdl)
    gateway = gateway_for(InsurerProfile.objects.get(pk=world.profile.pk))
    send = lambda items: gateway.submit(  # noqa: E731
        idempotency_key="dispatch:k1", items=items, callback_url="http://x/cb", dispatch_id=None
    )

    first, again = send([_item("T1")]), send([_item("T1")])
    other = send([_item("T2")])

    assert first.accepted
    assert again.accepted
    assert again.reference == first.reference
    assert (state.stats["submissions"], state.stats["replays"]) == (1, 1)
    # The same key for other content is our bookkeeping's fault: not retried, not "invalid".
    assert (other.accepted, other.transient, other.invalid) == (False, False, False)
    assert "IdempotencyKeyReused" in other.error


def test_invalid_items_are_named_and_only_those_fail(db, quiet_insurer):
    wsdl, _state = quiet_insurer
    world = _soap_world(wsdl)
    good = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    bad = endorsement_submit(employer=world.employer, data=addition("BAD-2", effective=day(5), plan="DAY"), actor="t")

    assert send_window().status == Dispatch.Status.INVALID

    bad = EndorsementRequest.objects.get(pk=bad.pk)
    good = EndorsementRequest.objects.get(pk=good.pk)
    assert bad.state == RequestState.FAILED
    assert "member_id is not a valid member number" in bad.last_error
    assert (good.state, good.dispatch_id) == (RequestState.FUND_LOCKED, None)


def test_a_wrong_api_key_dead_letters_for_an_operator(db, quiet_insurer):
    wsdl, _state = quiet_insurer
    world = _soap_world(wsdl)
    world.profile.api_key = "wrong"
    world.profile.save()
    request = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")

    assert send_window().status == Dispatch.Status.DEAD_LETTER
    assert "Client.Unauthorized" in EndorsementRequest.objects.get(pk=request.pk).last_error
