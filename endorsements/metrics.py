"""Prometheus metrics of the endorsements app (module-level; labels never carry personal data)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INTAKE_ROWS = Counter(
    "endorsements_intake_rows_total", "Endorsement rows received, by door and outcome", ["source", "outcome"]
)
TRANSITIONS = Counter(
    "endorsements_request_transitions_total", "Endorsement request state changes, by target state", ["state"]
)
REQUESTS_BY_STATE = Gauge(
    "endorsements_requests",
    "Endorsement requests by state (refreshed by a task)",
    ["state"],
    multiprocess_mode="mostrecent",
)
PARKED_AMOUNT = Gauge(
    "endorsements_parked_amount",
    "Debits parked for lack of funds, per employer account",
    ["employer", "currency"],
    multiprocess_mode="mostrecent",
)
RECEIVED_TO_ACTIVE = Histogram(
    "endorsements_received_to_active_seconds",
    "Time from intake to active",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600),
)
GATEWAY_CALLS = Counter(
    "endorsements_gateway_calls_total", "Calls to insurer gateways, by protocol and result", ["protocol", "result"]
)
CALLBACKS = Counter("endorsements_callbacks_total", "Insurer callback events, by outcome", ["outcome"])
BATCH_ROWS_SECONDS = Histogram("endorsements_batch_chunk_seconds", "Time to process one batch chunk")
INBOUND_FILES = Counter(
    "endorsements_inbound_files_total",
    "Files fetched from insurers' SFTP outboxes, by kind and status",
    ["kind", "status"],
)
