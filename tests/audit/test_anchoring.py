"""Anchoring tree heads on the in-process chain: crash safety, retries, circuit breaker."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from audit import breaker, chain
from audit.models import Anchor, AnchorStatus, TreeHead
from audit.services import anchoring, tree_seal
from audit.tasks import anchor_tree_head
from tests.audit.conftest import record_events
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands in for the worker process dying (not an Exception: nothing may swallow it)."""


def anchored_events(client: Any) -> list[Any]:
    return list(client.contract.events.Anchored().get_logs(from_block=0))


def test_the_latest_tree_head_is_anchored_once_and_recorded(in_process_chain: Any) -> None:
    record_events("c1", 3)
    head = tree_seal()
    assert head is not None

    assert anchor_tree_head() == AnchorStatus.CONFIRMED
    anchor = Anchor.objects.get()
    assert (anchor.tree_head_id, anchor.status) == (head.pk, AnchorStatus.CONFIRMED)
    assert anchor.tx_hash.startswith("0x")
    assert anchor.block_number
    assert anchor.block_hash.startswith("0x")
    assert anchor.contract_address == in_process_chain.contract_address
    assert in_process_chain.contract.functions.rootAt(3).call().hex().removeprefix("0x") == head.root_hash

    assert anchor_tree_head() == "nothing_to_anchor"
    assert Anchor.objects.count() == 1
    assert len(anchored_events(in_process_chain)) == 1


def test_a_crash_after_sending_and_before_recording_does_not_anchor_twice(
    in_process_chain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_events("c1", 2)
    tree_seal()
    sender = in_process_chain.account.address
    nonce_before = in_process_chain.w3.eth.get_transaction_count(sender)

    def die() -> None:
        raise WorkerKilled

    monkeypatch.setattr(anchoring, "_after_broadcast", die)
    with pytest.raises(WorkerKilled):
        anchor_tree_head()
    anchor = Anchor.objects.get()
    assert anchor.status == AnchorStatus.PENDING  # the send was never recorded...
    assert anchor.tx_hash  # ...but the intent, with the signed transaction, was
    assert len(anchored_events(in_process_chain)) == 1  # and it did reach the chain

    monkeypatch.undo()
    assert anchor_tree_head() == AnchorStatus.CONFIRMED  # the retry resumes the same transaction

    assert Anchor.objects.count() == 1
    assert Anchor.objects.get().tx_hash == anchor.tx_hash
    assert len(anchored_events(in_process_chain)) == 1
    assert in_process_chain.w3.eth.get_transaction_count(sender) == nonce_before + 1


def test_a_crash_before_broadcasting_resends_the_same_signed_transaction(
    in_process_chain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_events("c1", 2)
    tree_seal()
    real_send = in_process_chain.w3.eth.send_raw_transaction

    def die(raw: Any) -> None:
        raise WorkerKilled

    monkeypatch.setattr(in_process_chain.w3.eth, "send_raw_transaction", die)
    with pytest.raises(WorkerKilled):
        anchor_tree_head()
    signed = Anchor.objects.get()
    assert signed.raw_tx
    assert not anchored_events(in_process_chain)

    monkeypatch.setattr(in_process_chain.w3.eth, "send_raw_transaction", real_send)
    assert anchor_tree_head() == AnchorStatus.CONFIRMED
    assert Anchor.objects.get().tx_hash == signed.tx_hash
    assert len(anchored_events(in_process_chain)) == 1


def test_an_unreachable_node_is_retried_five_times_and_opens_the_breaker(
    in_process_chain: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.AUDIT_ANCHOR_BREAKER_THRESHOLD = 10
    record_events("c1", 1)
    tree_seal()
    calls: list[int] = []

    def unreachable(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise chain.ChainUnavailableError("connection refused")

    monkeypatch.setattr("audit.tasks.anchor_send", unreachable)
    # Eager apply runs the retries inline: the first try and 5 retries, then the error surfaces.
    result = anchor_tree_head.apply()
    assert result.failed()
    assert isinstance(result.result, chain.ChainUnavailableError)
    assert len(calls) == 6
    assert breaker.state() == breaker.CLOSED  # 6 consecutive failures < 10

    # The breaker opens at the 10th consecutive failure; the retry after it does not call the node.
    assert anchor_tree_head.apply().result == "circuit_open"
    assert len(calls) == 10
    assert breaker.state() == breaker.OPEN
    assert anchor_tree_head() == "circuit_open"
    assert len(calls) == 10

    # After the reset period the breaker lets one trial through; success closes it.
    settings.AUDIT_ANCHOR_BREAKER_RESET_SECONDS = 0
    assert breaker.state() == breaker.HALF_OPEN
    monkeypatch.undo()
    assert anchor_tree_head() == AnchorStatus.CONFIRMED
    assert breaker.state() == breaker.CLOSED
    assert Anchor.objects.get().status == AnchorStatus.CONFIRMED


def test_a_tree_head_the_contract_refuses_is_marked_failed(in_process_chain: Any) -> None:
    record_events("c1", 2)
    tree_seal()
    # Someone already anchored a bigger tree with this key: the contract refuses to go back.
    client = in_process_chain
    tx = client.contract.functions.anchor(10, b"\x01" * 32).build_transaction(
        {"from": client.account.address, "nonce": client.w3.eth.get_transaction_count(client.account.address)}
    )
    client.w3.eth.send_raw_transaction(client.account.sign_transaction(tx).raw_transaction)

    assert anchor_tree_head() == "failed"
    anchor = Anchor.objects.get()
    assert anchor.status == AnchorStatus.FAILED
    assert "refuses" in anchor.last_error
    assert TreeHead.objects.count() == 1


def test_backoff_grows_exponentially() -> None:
    from audit.tasks import backoff_seconds

    assert [int(backoff_seconds(n)) for n in range(5)] == [5, 10, 20, 40, 80]
    assert int(backoff_seconds(10)) == 300


def test_an_anchor_signed_for_a_chain_that_is_gone_is_given_up(in_process_chain: Any) -> None:
    record_events("c1", 2)
    tree_seal()
    assert anchor_tree_head() == AnchorStatus.CONFIRMED
    record_events("c1", 1)
    tree_seal()
    anchor = anchoring.anchor_prepare()
    assert anchor is not None
    Anchor.objects.filter(pk=anchor.pk).update(contract_address="0x" + "ab" * 20, tx_hash="0x" + "cd" * 32)

    assert anchor_tree_head() == "failed"
    assert "was signed for contract" in Anchor.objects.get(pk=anchor.pk).last_error
    # The next run is not blocked by it: the following tree head gets anchored.
    record_events("c1", 1)
    tree_seal()
    assert anchor_tree_head() == AnchorStatus.CONFIRMED


def _row_lock_probe(anchor_id: int) -> str:
    """From another connection (another worker): can the anchor row be locked right now?"""
    outcome: list[str] = []

    def probe() -> None:
        try:
            with transaction.atomic():
                Anchor.objects.select_for_update(nowait=True).get(pk=anchor_id)
            outcome.append("free")
        except DatabaseError:
            outcome.append("locked")
        finally:
            connection.close()

    worker = threading.Thread(target=probe)
    worker.start()
    worker.join()
    return outcome[0]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_node_answers(in_process_chain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow node must not pin the anchor row (and a connection): the nonce and gas come first."""
    record_events("c1", 2)
    tree_seal()
    anchor = anchoring.anchor_prepare()
    assert anchor is not None
    eth = in_process_chain.w3.eth
    seen: dict[str, str] = {}

    def probing(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.setdefault(name, _row_lock_probe(anchor.pk))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(eth, "get_transaction_count", probing("nonce", eth.get_transaction_count))
    monkeypatch.setattr(eth, "estimate_gas", probing("gas", eth.estimate_gas))

    sent = anchoring.anchor_send(anchor_id=anchor.pk)

    assert seen == {"nonce": "free", "gas": "free"}
    assert sent.status == AnchorStatus.SENT
    assert len(anchored_events(in_process_chain)) == 1


def test_a_worker_that_signs_while_another_already_did_sends_the_stored_transaction(
    in_process_chain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers read the nonce at once; the transaction stored first is the only one ever sent."""
    record_events("c1", 2)
    tree_seal()
    anchor = anchoring.anchor_prepare()
    assert anchor is not None
    sender = in_process_chain.account.address
    nonce_before = in_process_chain.w3.eth.get_transaction_count(sender)
    eth = in_process_chain.w3.eth
    real_nonce = eth.get_transaction_count
    other: list[Anchor] = []

    def nonce_then_the_other_worker_signs(*args: Any, **kwargs: Any) -> Any:
        value = real_nonce(*args, **kwargs)
        if not other:
            other.append(store_as_the_other_worker(value))
        return value

    def store_as_the_other_worker(nonce: int) -> Anchor:
        # Its own gas limit, so its transaction differs from the one this worker would sign.
        head = anchor.tree_head
        tx = in_process_chain.contract.functions.anchor(
            head.tree_size, bytes.fromhex(head.root_hash)
        ).build_transaction({"from": sender, "nonce": nonce, "chainId": in_process_chain.chain_id, "gas": 300_000})
        signed = in_process_chain.account.sign_transaction(tx)
        Anchor.objects.filter(pk=anchor.pk).update(
            chain_id=in_process_chain.chain_id,
            contract_address=in_process_chain.contract_address,
            sender=sender,
            nonce=nonce,
            tx_hash=chain.hex0x(signed.hash),
            raw_tx=chain.hex0x(signed.raw_transaction),
            confirmations_required=in_process_chain.confirmations,
        )
        return Anchor.objects.get(pk=anchor.pk)

    monkeypatch.setattr(eth, "get_transaction_count", nonce_then_the_other_worker_signs)
    sent = anchoring.anchor_send(anchor_id=anchor.pk)

    assert sent.tx_hash == other[0].tx_hash
    assert sent.status == AnchorStatus.SENT
    assert len(anchored_events(in_process_chain)) == 1
    assert in_process_chain.w3.eth.get_transaction_count(sender) == nonce_before + 1
    assert anchoring.anchor_confirm(anchor_id=anchor.pk).status == AnchorStatus.CONFIRMED


def test_a_worker_that_finds_the_anchor_already_sent_by_another_does_not_fail_it(
    in_process_chain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other worker signed and broadcast first: our gas estimate now reverts, which is not a refusal."""
    record_events("c1", 2)
    tree_seal()
    anchor = anchoring.anchor_prepare()
    assert anchor is not None
    eth = in_process_chain.w3.eth
    real_nonce = eth.get_transaction_count
    other: list[Anchor] = []

    def nonce_then_the_other_worker_sends(*args: Any, **kwargs: Any) -> Any:
        value = real_nonce(*args, **kwargs)
        if not other:
            monkeypatch.setattr(eth, "get_transaction_count", real_nonce)  # the other worker asks the node itself
            other.append(anchoring.anchor_send(anchor_id=anchor.pk))
        return value

    monkeypatch.setattr(eth, "get_transaction_count", nonce_then_the_other_worker_sends)
    sent = anchoring.anchor_send(anchor_id=anchor.pk)

    assert (sent.status, sent.tx_hash) == (AnchorStatus.SENT, other[0].tx_hash)
    assert len(anchored_events(in_process_chain)) == 1
    monkeypatch.undo()
    assert anchor_tree_head() == AnchorStatus.CONFIRMED
    assert Anchor.objects.get().status == AnchorStatus.CONFIRMED


def test_disabled_anchoring_sends_nothing(settings: Any) -> None:
    settings.AUDIT_ANCHORING_DISABLED = True
    record_events("c1", 2)
    tree_seal()
    assert anchor_tree_head() == "disabled"
    assert not Anchor.objects.exists()


def test_production_never_falls_back_to_the_in_process_chain(settings: Any) -> None:
    settings.IS_PRODUCTION, settings.CHAIN_RPC_URL = True, ""
    chain.reset_client()
    with pytest.raises(chain.ChainRejectedError, match="production does not anchor on the in-process chain"):
        chain.client()
    chain.reset_client()
