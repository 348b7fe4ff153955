"""Prometheus metrics (prometheus-client), defined once here and recorded where things happen.

`tally serve` runs in multiprocess mode: it points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
this module is first imported (`cli.main._metrics_dir`), every server process writes its samples there,
and `/metrics` merges them, so the figures are right with `--workers N`. Without that variable (tests
building an app in-process, `tally worker --metrics-port`) the default registry is used.

Every metric is documented in docs/operations.md; tests/api/test_operations.py checks the list.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "tally_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "tally_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_RECEIVED = Counter("tally_events_received_total", "Usage events received by POST /v1/ingest.")
EVENTS_STORED = Counter(
    "tally_events_total", "Usage events ingested, by result: accepted (new) or duplicate.", ["result"]
)
INGEST_GROUP_BATCHES = Histogram(
    "tally_ingest_group_commit_batches",
    "Ingest requests committed together in one group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32),
)
INGEST_GROUP_EVENTS = Histogram(
    "tally_ingest_group_commit_events",
    "Events committed in one group-commit transaction.",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000),
)
WORKER_PASS_DURATION = Histogram(
    "tally_worker_pass_duration_seconds",
    "Duration of one billing-worker pass.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
WORKER_DUE_CONTRACTS = Gauge(
    "tally_worker_due_contracts",
    "Contracts with billing work due at the start of the last worker pass.",
    multiprocess_mode="mostrecent",
)
WORKER_LAG = Gauge(
    "tally_worker_lag_seconds",
    "How long the oldest due billing work had waited at the start of the last pass.",
    multiprocess_mode="mostrecent",
)
INVOICES_FINALIZED = Counter("tally_invoices_finalized_total", "Invoices finalized by the billing worker.")
RECHARGES = Counter(
    "tally_threshold_recharges_total", "Threshold-billing recharges (commits granted) by the billing worker."
)
WEBHOOK_DELIVERIES = Counter(
    "tally_webhook_deliveries_total",
    "Webhook delivery attempts by result: delivered, retrying (failed, will retry) or failed (gave up).",
    ["result"],
)
WEBHOOK_OUTBOX = Gauge(
    "tally_webhook_outbox_backlog",
    "Webhook deliveries pending and due at the end of the last worker pass.",
    multiprocess_mode="mostrecent",
)
STRIPE_SYNCS = Counter(
    "tally_stripe_syncs_total",
    "Stripe sync attempts by result: synced, retrying (Stripe down, 429 or 5xx; backing off) or refused "
    "(a 4xx; the operator retries after fixing the cause).",
    ["result"],
)
DB_ERRORS = Counter(
    "tally_database_errors_total", "Database errors raised to tally, by exception class.", ["kind"]
)

ALL = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    EVENTS_RECEIVED,
    EVENTS_STORED,
    INGEST_GROUP_BATCHES,
    INGEST_GROUP_EVENTS,
    WORKER_PASS_DURATION,
    WORKER_DUE_CONTRACTS,
    WORKER_LAG,
    INVOICES_FINALIZED,
    RECHARGES,
    WEBHOOK_DELIVERIES,
    WEBHOOK_OUTBOX,
    DB_ERRORS,
)


def exposition() -> tuple[bytes, str]:
    """The current figures in Prometheus text format, merged across processes in multiprocess mode."""
    registry: Any = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
