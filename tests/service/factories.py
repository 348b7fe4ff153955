"""Factories for the in-process service tests: catalog, customer and contract built through the services
the API routes call, each request body validated by the API's own model (`kit.api.parse`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tally.auth import service as auth
from tally.billable_metrics import service as metrics
from tally.billable_metrics.schemas import CreateMetric
from tally.contracts import service as contracts
from tally.contracts.schemas_create import CreateContract
from tally.credit_types.builtin import USD_CENTS_ID
from tally.customers import service as customers
from tally.customers.schemas import CreateCustomer
from tally.db.uow import WriteConn
from tally.kit.api import parse
from tally.products import service as products
from tally.products.schemas import CreateProduct
from tally.rate_cards import rates
from tally.rate_cards import service as rate_cards
from tally.rate_cards.schemas import AddRates, CreateRateCard
from tally.usage import ingest


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Catalog:
    tenant: auth.Tenant
    metric_id: str
    product_id: str
    rate_card_id: str
    event_type: str


def tenant(conn: WriteConn, now: datetime) -> auth.Tenant:
    return auth.get_or_create_tenant(conn, f"svc-{uuid.uuid4().hex[:8]}", now)


def catalog(
    conn: WriteConn, now: datetime, start: datetime, rate: dict[str, Any], *, by_region: bool = True
) -> Catalog:
    """A SUM metric of `units` grouped by `region`, one usage product on it (its lines split by region
    when `by_region`), and a rate card pricing it with `rate` (a RateIn body without product_id and
    starting_at) from `start`."""
    t = tenant(conn, now)
    event_type = f"calls_{uuid.uuid4().hex[:6]}"
    metric_id = metrics.create(
        conn,
        t.id,
        parse(
            CreateMetric,
            {
                "name": "Units",
                "aggregation_type": "SUM",
                "aggregation_key": "units",
                "event_type_filter": {"in_values": [event_type]},
                "property_filters": [{"name": "units", "exists": True}, {"name": "region", "exists": True}],
                "group_keys": [["region"]],
            },
        ),
        now,
    )
    product_id = products.create(
        conn,
        t.id,
        parse(
            CreateProduct,
            {
                "name": "Units",
                "type": "USAGE",
                "billable_metric_id": metric_id,
                **({"presentation_group_key": ["region"]} if by_region else {}),
            },
        ),
        now,
        t.name,
    )
    card = rate_cards.create(conn, t.id, parse(CreateRateCard, {"name": "Card"}), t.name, now)
    req = parse(
        AddRates,
        {
            "rate_card_id": card,
            "rates": [{"product_id": product_id, "starting_at": iso(start), "entitled": True, **rate}],
        },
    )
    rates.add(conn, t.id, card, list(req.rates), True, now)
    return Catalog(t, metric_id, product_id, card, event_type)


def customer(conn: WriteConn, c: Catalog, now: datetime, alias: str) -> str:
    made = customers.create(
        conn, c.tenant.id, parse(CreateCustomer, {"name": alias, "ingest_aliases": [alias]}), now
    )
    return made.id


def contract(
    conn: WriteConn, c: Catalog, customer_id: str, start: datetime, now: datetime, **terms: Any
) -> str:
    body = {"customer_id": customer_id, "starting_at": iso(start), "rate_card_id": c.rate_card_id, **terms}
    return contracts.create(conn, c.tenant.id, parse(CreateContract, body), now, c.tenant.name)


def recurring_templates(product_id: str, start: datetime) -> dict[str, Any]:
    """A contract's `recurring_commits` (invoiced, 90 days, rounded access) and `recurring_credits`
    (quarterly, two periods each, rolling over) on `product_id` from `start`: terms with children."""
    usd = USD_CENTS_ID
    return {
        "recurring_commits": [
            {
                "product_id": product_id,
                "access_amount": {"unit_price": 1000, "quantity": 1, "credit_type_id": usd},
                "invoice_amount": {"unit_price": 1000, "quantity": 1, "credit_type_id": usd},
                "commit_duration": {"value": 1},
                "priority": 1,
                "starting_at": iso(start),
                "ending_before": iso(start + timedelta(days=90)),
                "proration_rounding": {"access": {"decimal_places": 0, "rounding_method": "FLOOR"}},
            }
        ],
        "recurring_credits": [
            {
                "product_id": product_id,
                "access_amount": {"unit_price": 500, "credit_type_id": usd},
                "commit_duration": {"value": 2, "unit": "PERIODS"},
                "priority": 3,
                "starting_at": iso(start),
                "recurrence_frequency": "QUARTERLY",
                "rollover_fraction": 1,
            }
        ],
    }


def usage(
    conn: WriteConn, c: Catalog, alias: str, now: datetime, events: list[tuple[datetime, dict[str, Any]]]
) -> None:
    """Ingest `events` (timestamp, properties) for `alias` in the caller's transaction, as POST /v1/ingest."""
    body = [
        {
            "transaction_id": uuid.uuid4().hex,
            "customer_id": alias,
            "event_type": c.event_type,
            "timestamp": iso(ts),
            "properties": props,
        }
        for ts, props in events
    ]
    ingest.store(conn, [ingest.Job(c.tenant.id, ingest.validate(body, now), now)])
