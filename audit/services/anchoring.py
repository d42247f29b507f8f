"""Anchoring signed tree heads on chain, safe against a crash at any point.

The order is: record the intent (the Anchor row); ask the node for the nonce and gas and sign, with
no row locked; lock the row only to store the signed bytes and hash (the first stored wins), commit;
only then broadcast; then record that it was sent; later record the confirmation.
A retry after a crash anywhere finds the stored transaction and looks it up on chain by hash,
rebroadcasting the same bytes if the node never saw them. The same nonce can be mined once, and
the contract refuses a tree size that does not grow, so a tree head is never anchored twice.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from prometheus_client import Counter, Gauge

from audit import chain
from audit.models import Anchor, AnchorStatus, TreeHead

logger = structlog.get_logger(__name__)

ANCHORS = Counter("audit_anchors_total", "Anchor transitions.", ["status"])
ANCHORED_SIZE = Gauge(
    "audit_anchored_tree_size", "Tree size of the latest confirmed anchor.", multiprocess_mode="mostrecent"
)

_OPEN = [AnchorStatus.PENDING, AnchorStatus.SENT]


def _after_broadcast() -> None:
    """Hook between broadcasting and recording it; tests make it crash."""


@transaction.atomic
def anchor_prepare() -> Anchor | None:
    """The anchor to work on: an unfinished one, else a new intent for the latest tree head."""
    unfinished = Anchor.objects.select_for_update().filter(status__in=_OPEN).order_by("id").first()
    if unfinished is not None:
        return unfinished
    latest = TreeHead.objects.order_by("-tree_size").first()
    if latest is None:
        return None
    done = Anchor.objects.filter(status=AnchorStatus.CONFIRMED).order_by("-tree_head__tree_size").first()
    if done is not None and done.tree_head.tree_size >= latest.tree_size:
        return None
    if Anchor.objects.filter(tree_head=latest).exists():
        return None  # failed for good; an operator looks at it, and the next tree head gets anchored
    return Anchor.objects.create(tree_head=latest, status=AnchorStatus.PENDING)


def _anchor_sign(*, anchor_id: int, client: chain.ChainClient) -> Anchor:
    """Sign the anchor transaction once; the first signed transaction stored is the only one ever sent.

    The node is asked for the nonce and the gas outside any transaction (a slow node must not pin
    the row or a connection); the row is then locked only to store the signed bytes, unless another
    worker stored its own meanwhile, which then wins. Nothing is broadcast before that commit.
    """
    anchor = Anchor.objects.select_related("tree_head").get(pk=anchor_id)
    if anchor.raw_tx:
        return anchor
    head = anchor.tree_head
    try:
        nonce = client.w3.eth.get_transaction_count(client.account.address, "pending")
        tx = client.contract.functions.anchor(head.tree_size, bytes.fromhex(head.root_hash)).build_transaction(
            {"from": client.account.address, "nonce": nonce, "chainId": client.chain_id}
        )
    except chain.transient_errors() as exc:
        raise chain.ChainUnavailableError(str(exc)) from exc
    except Exception as exc:  # gas estimation runs the contract: a revert there is final...
        stored = Anchor.objects.select_related("tree_head").get(pk=anchor_id)
        if stored.raw_tx:
            return stored  # ...unless another worker signed (and sent) this anchor while we asked
        raise chain.ChainRejectedError(f"the contract refuses this anchor: {exc}") from exc
    signed = client.account.sign_transaction(tx)
    with transaction.atomic():
        anchor = Anchor.objects.select_for_update().select_related("tree_head").get(pk=anchor_id)
        if anchor.raw_tx:
            return anchor  # another worker stored its transaction first; ours is dropped unsent
        anchor.chain_id = client.chain_id
        anchor.contract_address = client.contract_address
        anchor.sender = client.account.address
        anchor.nonce = nonce
        anchor.tx_hash = chain.hex0x(signed.hash)
        anchor.raw_tx = chain.hex0x(signed.raw_transaction)
        anchor.confirmations_required = client.confirmations
        anchor.save()
    return anchor


def _known_to_chain(client: chain.ChainClient, tx_hash: str) -> bool:
    from web3.exceptions import TransactionNotFound

    try:
        client.w3.eth.get_transaction(tx_hash)
    except TransactionNotFound:
        return False
    return True


def anchor_send(*, anchor_id: int) -> Anchor:
    """Sign (once) and broadcast the anchor transaction; idempotent across crashes and retries."""
    client = chain.client()
    signed_for = Anchor.objects.filter(pk=anchor_id).values_list("contract_address", flat=True).get()
    if signed_for and signed_for != client.contract_address:
        # Another chain or contract than the one this transaction was signed for (the in-process
        # development chain does not survive a restart): it can never be mined, so give it up.
        raise chain.ChainRejectedError(
            f"the anchor was signed for contract {signed_for}, the chain now has {client.contract_address}"
        )
    anchor = _anchor_sign(anchor_id=anchor_id, client=client)  # committed before anything leaves
    if anchor.status != AnchorStatus.PENDING:
        return anchor
    try:
        if not _known_to_chain(client, anchor.tx_hash):
            client.w3.eth.send_raw_transaction(anchor.raw_tx)
    except chain.transient_errors() as exc:
        _note_error(anchor_id, str(exc))
        raise chain.ChainUnavailableError(str(exc)) from exc
    except ValueError as exc:
        # "nonce too low" and kin: something took this nonce; if it was us, confirming finds it.
        if not _known_to_chain(client, anchor.tx_hash):
            _note_error(anchor_id, str(exc))
            raise chain.ChainRejectedError(f"the node refused the anchor transaction: {exc}") from exc
    _after_broadcast()
    with transaction.atomic():
        anchor = Anchor.objects.select_for_update().get(pk=anchor_id)
        if anchor.status == AnchorStatus.PENDING:
            anchor.mark_sent()
            anchor.save(update_fields=["status", "sent_at", "attempts"])
            ANCHORS.labels(status="sent").inc()
    logger.info("audit.anchor_sent", anchor_id=anchor_id, tx_hash=anchor.tx_hash, nonce=anchor.nonce)
    return anchor


def _note_error(anchor_id: int, message: str) -> None:
    Anchor.objects.filter(pk=anchor_id).update(last_error=message[:2000])


def anchor_confirm(*, anchor_id: int) -> Anchor:
    """Record the block once the anchor transaction has enough confirmations."""
    from web3.exceptions import TransactionNotFound

    client = chain.client()
    anchor = Anchor.objects.get(pk=anchor_id)
    if anchor.status != AnchorStatus.SENT:
        return anchor
    try:
        receipt: Any = client.w3.eth.get_transaction_receipt(anchor.tx_hash)
        latest = client.w3.eth.block_number
    except TransactionNotFound:
        # Dropped from the node's pool (or never propagated): the same bytes again, same nonce.
        if not _known_to_chain(client, anchor.tx_hash):
            try:
                client.w3.eth.send_raw_transaction(anchor.raw_tx)
            except ValueError as exc:
                _note_error(anchor_id, f"rebroadcast refused: {exc}")
        return anchor
    except chain.transient_errors() as exc:
        raise chain.ChainUnavailableError(str(exc)) from exc
    with transaction.atomic():
        anchor = Anchor.objects.select_for_update().get(pk=anchor_id)
        if anchor.status != AnchorStatus.SENT:
            return anchor
        if receipt["status"] != 1:
            anchor.fail("the anchor transaction reverted")
            anchor.save(update_fields=["status", "last_error"])
            ANCHORS.labels(status="failed").inc()
            logger.error("audit.anchor_reverted", anchor_id=anchor_id, tx_hash=anchor.tx_hash)
            return anchor
        if latest - receipt["blockNumber"] + 1 < anchor.confirmations_required:
            return anchor
        anchor.confirm(block_number=receipt["blockNumber"], block_hash=chain.hex0x(receipt["blockHash"]))
        anchor.save(update_fields=["status", "block_number", "block_hash", "confirmed_at", "last_error"])
    ANCHORS.labels(status="confirmed").inc()
    ANCHORED_SIZE.set(anchor.tree_head.tree_size)
    logger.info("audit.anchor_confirmed", anchor_id=anchor_id, block=anchor.block_number)
    return anchor


def anchor_fail(*, anchor_id: int, reason: str) -> Anchor:
    """Mark an anchor failed for good (a revert or a refused transaction), for operators to see."""
    with transaction.atomic():
        anchor = Anchor.objects.select_for_update().get(pk=anchor_id)
        anchor.fail(reason)
        anchor.save(update_fields=["status", "last_error"])
    ANCHORS.labels(status="failed").inc()
    return anchor
