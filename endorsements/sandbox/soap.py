"""The sandbox insurer's SOAP 1.1 endpoint (spyne), serving its WSDL at `/?wsdl`.

It answers exactly like the REST endpoint (`server.submission_take`): accepted with a batch
reference, refused naming the invalid items, the same reply again for a replayed idempotency key,
a SOAP fault for a reused key or a temporary outage; decisions follow by signed callbacks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from spyne import Application, ComplexModel, Fault, Integer, ServiceBase, Unicode, rpc
from spyne.model.complex import Array
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from endorsements.sandbox.server import Config, State, submission_take

NAMESPACE = "urn:sandbox-insurer:endorsements:1"
ITEM_FIELDS = (
    "tracking_id",
    "kind",
    "direction",
    "amount",
    "currency",
    "policy_number",
    "member_id",
    "relationship",
    "plan",
    "new_plan",
    "effective_date",
)


class Item(ComplexModel):
    __namespace__ = NAMESPACE
    _type_info = [(name, Unicode) for name in ITEM_FIELDS]


class ItemError(ComplexModel):
    __namespace__ = NAMESPACE
    tracking_id = Unicode
    message = Unicode


class SubmitResult(ComplexModel):
    __namespace__ = NAMESPACE
    # accepted | duplicate (a replay of an earlier submission) | invalid (nothing was taken)
    status = Unicode
    batch_reference = Unicode
    accepted = Integer
    errors = Array(ItemError)


class AuthHeader(ComplexModel):
    __namespace__ = NAMESPACE
    api_key = Unicode


def build_application(config: Config, state: State) -> Application:
    class EndorsementService(ServiceBase):
        __in_header__ = AuthHeader

        @rpc(Unicode, Unicode, Array(Item), _returns=SubmitResult)
        def SubmitBatch(ctx: Any, idempotency_key: str, callback_url: str, items: list[Item]) -> SubmitResult:
            header = ctx.in_header
            if header is None or not hmac.compare_digest(str(header.api_key or ""), config.api_key):
                raise Fault(faultcode="Client.Unauthorized", faultstring="The API key is not valid.")
            if not idempotency_key:
                raise Fault(faultcode="Client.IdempotencyKeyRequired", faultstring="An idempotency key is required.")
            rows = [{name: str(getattr(i, name) or "") for name in ITEM_FIELDS} for i in (items or [])]
            canonical = json.dumps({"callback_url": callback_url, "items": rows}, sort_keys=True, separators=(",", ":"))
            answer = submission_take(
                config,
                state,
                key=idempotency_key,
                fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
                items=rows,
                callback_url=callback_url or "",
            )
            if answer.status == HTTPStatus.SERVICE_UNAVAILABLE:
                raise Fault(faultcode="Server.Unavailable", faultstring="Temporarily unavailable, try again.")
            if answer.body.get("error") == "idempotency_key_reused":
                raise Fault(faultcode="Client.IdempotencyKeyReused", faultstring="The key was used for other content.")
            if answer.status == HTTPStatus.UNPROCESSABLE_ENTITY:
                errors = [ItemError(tracking_id=e["tracking_id"], message=e["message"]) for e in answer.body["errors"]]
                return SubmitResult(status="invalid", accepted=0, errors=errors)
            return SubmitResult(
                status="duplicate" if answer.replay else "accepted",
                batch_reference=answer.body["batch_reference"],
                accepted=answer.body["accepted"],
                errors=[],
            )

    return Application(
        [EndorsementService],
        tns=NAMESPACE,
        name="SandboxInsurer",
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_soap(host: str, port: int, config: Config, state: State) -> WSGIServer:
    """Start the SOAP endpoint in a background thread; the WSDL is at http://host:port/?wsdl."""
    # spyne logs every fault it raises with a traceback; faults here are answers, not crashes.
    logging.getLogger("spyne.application").setLevel(logging.CRITICAL)
    server = make_server(
        host,
        port,
        WsgiApplication(build_application(config, state)),
        server_class=_ThreadingWSGIServer,
        handler_class=_Quiet,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
