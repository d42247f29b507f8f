"""SOAP insurer adapter: a zeep client built from the insurer's WSDL (`InsurerProfile.base_url`).

The operation is `SubmitBatch(idempotency_key, callback_url, items)` with the API key in an
`AuthHeader` SOAP header; the answer is accepted, duplicate (a replay: same reference) or invalid
(naming items). Faults: `Server.*` is transient, `Client.*` needs an operator (dead letter).
"""

from __future__ import annotations

import time

import requests
import structlog
import zeep
import zeep.exceptions
from lxml import etree
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

from endorsements import metrics
from endorsements.gateway.base import (
    GatewayItem,
    GatewayResult,
    InsurerGateway,
    exchange_record,
    insurer_session,
    refused_host_error,
)
from endorsements.models import InsurerProfile
from escrow_project.common import egress

logger = structlog.get_logger(__name__)

TIMEOUT = 15


def _xml(envelope: object) -> str:
    if envelope is None:
        return ""
    return etree.tostring(envelope, encoding="unicode")


def _envelope(history: HistoryPlugin, which: str) -> object:
    """The last sent or received envelope, None when nothing was exchanged (the plugin's properties
    raise IndexError then: a refused host, or a WSDL that could not be fetched)."""
    try:
        entry = getattr(history, which)
    except IndexError:
        return None
    return entry["envelope"] if entry else None


class SoapGateway(InsurerGateway):
    protocol = "soap"

    def __init__(self, profile: InsurerProfile) -> None:
        self.profile = profile

    def submit(
        self, *, idempotency_key: str, items: list[GatewayItem], callback_url: str, dispatch_id: int | None
    ) -> GatewayResult:
        history = HistoryPlugin()
        started = time.perf_counter()
        status: int | None = None
        error = ""
        answer = None
        fault_code = ""
        refused = False
        try:
            # The WSDL, its imports and the endpoint all go to the WSDL host's checked address.
            with insurer_session(self.profile.base_url) as session:
                client = zeep.Client(
                    self.profile.base_url,
                    transport=Transport(session=session, timeout=TIMEOUT, operation_timeout=TIMEOUT),
                    plugins=[history],
                )
                answer = client.service.SubmitBatch(
                    idempotency_key=idempotency_key,
                    callback_url=callback_url,
                    items={"Item": [vars(i) for i in items]},
                    _soapheaders={"AuthHeader": {"api_key": self.profile.api_key}},
                )
            status = 200
        except egress.EgressRefused as exc:
            refused, error = True, refused_host_error(exc)
        except egress.EgressUnresolvable as exc:
            error = f"{type(exc).__name__}: {exc}"
        except zeep.exceptions.Fault as exc:
            status = 500
            fault_code = str(exc.code or "")
            error = f"SOAP fault {fault_code}: {exc.message}"
        except (requests.RequestException, zeep.exceptions.Error, etree.XMLSyntaxError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        sent, received = _envelope(history, "last_sent"), _envelope(history, "last_received")
        exchange_record(
            insurer_id=self.profile.insurer_id,
            dispatch_id=dispatch_id,
            operation="SubmitBatch",
            started=started,
            idempotency_key=idempotency_key,
            url=self.profile.base_url,
            request_body=_xml(sent),
            response_status=status,
            response_body=_xml(received),
            error=error,
        )
        if refused:
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="refused").inc()
            return GatewayResult(accepted=False, transient=False, error=error)
        if answer is None:
            # The fault code's first part says whose fault it is (SOAP 1.1: Client or Server).
            transient = not fault_code or fault_code.split(":")[-1].startswith("Server")
            result = "unreachable" if status is None else "transient" if transient else "refused"
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result=result).inc()
            return GatewayResult(accepted=False, transient=transient, error=error)
        if answer.status == "invalid":
            listed = answer.errors.ItemError if answer.errors is not None else []
            item_errors = {str(e.tracking_id): str(e.message or "invalid")[:500] for e in listed if e.tracking_id}
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="invalid").inc()
            return GatewayResult(
                accepted=False, invalid=True, item_errors=item_errors, error="SOAP SubmitBatch: invalid items"
            )
        if answer.status in ("accepted", "duplicate"):
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="accepted").inc()
            return GatewayResult(accepted=True, reference=str(answer.batch_reference or ""))
        metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="refused").inc()
        return GatewayResult(accepted=False, error=f"SOAP SubmitBatch: unexpected status {answer.status!r}")
