"""The Ethereum side of anchoring, through web3.py.

web3 is imported inside functions only: it takes about a second to import, and nothing that
Django loads at start-up may pay for it. With CHAIN_RPC_URL empty the chain is an in-process
eth-tester (py-evm) chain, created with the contract deployed on first use in each process:
fine for development and tests, gone when the process ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

ARTIFACT = Path(__file__).resolve().parent / "contracts" / "AuditAnchor.json"


class ChainUnavailableError(Exception):
    """The node could not be reached or did not answer in time: worth retrying."""


class ChainRejectedError(Exception):
    """The chain refused the anchor for good (reverted, or misconfigured)."""


@lru_cache(maxsize=1)
def artifact() -> dict[str, Any]:
    return json.loads(ARTIFACT.read_text(encoding="utf-8"))


@dataclass
class ChainClient:
    w3: Any
    account: Any
    contract: Any
    chain_id: int
    confirmations: int

    @property
    def contract_address(self) -> str:
        return str(self.contract.address)


_lock = threading.Lock()
_client: ChainClient | None = None


def hex0x(value: Any) -> str:
    text = value.hex() if hasattr(value, "hex") else str(value)
    return text if text.startswith("0x") else "0x" + text


def transient_errors() -> tuple[type[BaseException], ...]:
    import requests
    from web3.exceptions import ProviderConnectionError, TimeExhausted

    return (OSError, requests.exceptions.RequestException, ProviderConnectionError, TimeExhausted)


def deploy_contract(w3: Any, account: Any) -> str:
    """Deploy AuditAnchor from `account` and return its address."""
    art = artifact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    tx = factory.constructor().build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    if receipt["status"] != 1:
        raise ChainRejectedError("deploying AuditAnchor reverted")
    from web3 import Web3

    return str(Web3.to_checksum_address(receipt["contractAddress"]))


def _in_process_client() -> ChainClient:
    if settings.IS_PRODUCTION:  # the settings refuse this at start-up; never fall back to it either
        raise ChainRejectedError("production does not anchor on the in-process chain: set CHAIN_RPC_URL")
    from eth_account import Account
    from web3 import EthereumTesterProvider, Web3

    w3 = Web3(EthereumTesterProvider())
    account = Account.from_key(settings.AUDIT_CHAIN_PRIVATE_KEY)
    # eth-tester's first account holds the test ether; fund the anchoring key from it.
    funding = w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": account.address, "value": w3.to_wei(1000, "ether")}
    )
    w3.eth.wait_for_transaction_receipt(funding)
    address = deploy_contract(w3, account)
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact()["abi"])
    return ChainClient(w3=w3, account=account, contract=contract, chain_id=int(w3.eth.chain_id), confirmations=1)


def _rpc_client(url: str) -> ChainClient:
    from eth_account import Account
    from web3 import HTTPProvider, Web3

    if not settings.AUDIT_ANCHOR_CONTRACT_ADDRESS:
        raise ChainRejectedError("CHAIN_RPC_URL is set but AUDIT_ANCHOR_CONTRACT_ADDRESS is not")
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": settings.AUDIT_CHAIN_TIMEOUT_SECONDS}))
    account = Account.from_key(settings.AUDIT_CHAIN_PRIVATE_KEY)
    address = Web3.to_checksum_address(settings.AUDIT_ANCHOR_CONTRACT_ADDRESS)
    contract = w3.eth.contract(address=address, abi=artifact()["abi"])
    try:
        chain_id = int(w3.eth.chain_id)
    except transient_errors() as exc:
        raise ChainUnavailableError(f"chain node unreachable: {exc}") from exc
    return ChainClient(
        w3=w3, account=account, contract=contract, chain_id=chain_id, confirmations=settings.AUDIT_CHAIN_CONFIRMATIONS
    )


def client() -> ChainClient:
    """The process-wide chain client (built on first use)."""
    global _client
    with _lock:
        if _client is None:
            url = settings.CHAIN_RPC_URL
            _client = _rpc_client(url) if url else _in_process_client()
        return _client


def reset_client() -> None:
    """Forget the client (tests switch chains; settings changed)."""
    global _client
    with _lock:
        _client = None


def web3_rpc(chain_client: ChainClient) -> Callable[[str, list[Any]], Any]:
    """The JSON-RPC calls the verifier makes, answered through web3 in wire format.

    For the in-process eth-tester chain, whose provider answers in Python types rather than the
    hex strings a JSON-RPC node sends.
    """
    from web3.exceptions import TransactionNotFound

    w3 = chain_client.w3

    def call(method: str, params: list[Any]) -> Any:
        if method == "eth_blockNumber":
            return hex(w3.eth.block_number)
        if method == "eth_chainId":
            return hex(w3.eth.chain_id)
        if method == "eth_getTransactionReceipt":
            try:
                r = w3.eth.get_transaction_receipt(params[0])
            except TransactionNotFound:
                return None
            return {
                "status": hex(r["status"]),
                "blockNumber": hex(r["blockNumber"]),
                "blockHash": hex0x(r["blockHash"]),
                "logs": [
                    {"address": log["address"], "topics": [hex0x(t) for t in log["topics"]], "data": hex0x(log["data"])}
                    for log in r["logs"]
                ],
            }
        if method == "eth_call":
            return hex0x(w3.eth.call(dict(params[0], to=w3.to_checksum_address(params[0]["to"]))))
        raise RuntimeError(f"{method} is not answered here")

    return call


def verifier_rpc(contract_addresses: set[str]) -> tuple[Callable[[str, list[Any]], Any] | None, str]:
    """An RPC for `audit.verify` on the platform's own chain, or None and why the chain cannot be asked.

    Never builds the in-process chain: a fresh one would hold none of the anchors, which another
    process (the worker) made on its own in-process chain.
    """
    from audit import verify

    if settings.CHAIN_RPC_URL:
        return verify.http_rpc(settings.CHAIN_RPC_URL, timeout=settings.AUDIT_CHAIN_TIMEOUT_SECONDS), ""
    with _lock:
        current = _client
    if current is None or {a.lower() for a in contract_addresses} - {current.contract_address.lower()}:
        return None, (
            "anchors not checked on chain: they were made on an in-process development chain this process "
            "cannot read (set CHAIN_RPC_URL)"
        )
    return web3_rpc(current), ""
