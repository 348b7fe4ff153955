"""`tally demo`: seed a realistic demo tenant, so a newcomer opens the console and sees billing at once.

What it creates, all through the service functions the API routes call (each request body built as the
API would receive it and validated with the API's own pydantic model, `tally.kit.api.parse`), never with
raw inserts:

- invoice settings (issuer profile, `DC-000001` invoice numbers, 24 h grace period);
- a catalog: four billable metrics (one grouped by region, one by model), usage products with tiered
  rates, a per-1K-token product (quantity conversion), a composite "Platform fee" (5% of usage spend), a
  per-seat subscription product and fixed products for commits and credits, on one rate card;
- 36 customers on Starter / Growth / Enterprise contracts starting at the earlier month's start, with
  prepaid commits, welcome credits, seat subscriptions and an enterprise discount (override);
- two months of usage from a seeded RNG (deterministic: the same customers always get the same events),
  ingested through the same code as `POST /v1/ingest` (validate, then store in batches of 100), plus a few
  events that match no customer or no metric (the console's unmatched-events list);
- the earlier month finalized by the billing worker's own pass (`jobs.worker.run_pass`) at a fixed clock;
- a spend alert, an operator account (demo@example.com, admin) and an API token.

The first customer, Bluefin Analytics, has fixed usage so its finalized invoice can be checked by hand
(tests/api/test_demo.py does): see `BLUEFIN`.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from tally.alerts import service as alerts
from tally.alerts.schemas import CreateAlert
from tally.auth import service as auth
from tally.billable_metrics import service as metrics
from tally.billable_metrics.schemas import CreateMetric
from tally.clock import FixedClock
from tally.console import accounts
from tally.contracts import service as contracts
from tally.contracts.balances import thresholds
from tally.contracts.schemas_create import CreateContract
from tally.customers import service as customers
from tally.customers.schemas import CreateCustomer
from tally.db import uow
from tally.db.uow import WriteConn
from tally.invoices import documents
from tally.invoices import service as invoices
from tally.invoices.schemas import InvoiceSettings
from tally.jobs.worker import run_pass
from tally.kit.api import parse
from tally.models.tenants import tenants
from tally.money.credit_types import USD_CENTS_ID
from tally.products import service as products
from tally.products.schemas import CreateProduct
from tally.rate_cards import rates
from tally.rate_cards import service as rate_cards
from tally.rate_cards.schemas import AddRates, CreateRateCard
from tally.rating.periods import add_months
from tally.usage import ingest
from tally.usage import store as events_store

TENANT = "demo"
EMAIL = "demo@example.com"
GRACE_HOURS = 24
SEED = 14  # the RNG seed of every customer's usage (issue 14)

# 36 invented companies; the first is the hand-checked one (BLUEFIN).
COMPANIES = [
    "Bluefin Analytics",
    "Cedar & Pine Logistics",
    "Harborview Health",
    "Lumen Robotics",
    "Quartzline Payments",
    "Northwind Freight",
    "Saffron Kitchens",
    "Tidewater Energy",
    "Granite Peak Insurance",
    "Orchard Lane Media",
    "Copperleaf Software",
    "Silverline Telecom",
    "Brightwater Labs",
    "Ironbark Construction",
    "Meridian Travel",
    "Foxglove Retail",
    "Stonebridge Capital",
    "Kestrel Aerospace",
    "Willowbrook Schools",
    "Redwood Genomics",
    "Atlas Maps",
    "Juniper Legal",
    "Mosaic Marketplaces",
    "Pinecrest Hotels",
    "Vantage Security",
    "Helios Solar",
    "Driftwood Games",
    "Evergreen Farms",
    "Lighthouse Support",
    "Nimbus Weather",
    "Oakridge Manufacturing",
    "Parallax Studios",
    "Riverstone Banking",
    "Summit Fitness",
    "Tandem Mobility",
    "Zephyr Airlines",
]
REGIONS = ["us-east", "us-west", "eu-west", "ap-south"]
MODELS = ["atlas-8b", "atlas-70b"]
PLANS = ("Starter", "Growth", "Enterprise")


@dataclass(frozen=True)
class Bluefin:
    """Bluefin Analytics' fixed usage in the earlier month (days 1 to 28, so any month holds it), and its
    contract (Enterprise terms without the discount). Its invoices of that month, by hand (USD cents):

    SCHEDULED at the month start (seats are billed in advance, at the start of their period):
      Annual prepaid commit, bought for                                                    18,000
      Team seats for the month, 5 at 2,500                                                 12,500
        paid by the Welcome credit (priority 1)                                           - 5,000
        and the prepaid commit (priority 2)                                               - 7,500
      total                                                                                18,000
    USAGE for the month:
      API requests  sum 20,000 + 1,000 d for d = 1..28 = 560,000 + 406,000 = 966,000 requests
                    TIERED 250,000 at 0.02 = 5,000; the next 716,000 at 0.01 = 7,160      12,160
      Compute       10 hours a day, 28 days = 280 hours at 30 (140 us-east, 140 eu-west)  8,400
      LLM tokens    20,000 a day = 560,000 tokens = 560 per-1K units
                    TIERED 500 at 20 = 10,000; the next 60 at 12 = 720                    10,720
      Platform fee  5% of the usage spend 12,160 + 8,400 + 10,720 = 31,280                  1,564
      Team seats    the next month in advance, 5 at 2,500                                  12,500
      subtotal                                                                             45,344
      the prepaid commit's remaining 20,000 - 7,500                                      - 12,500
      total                                                                                32,844
    """

    name: str = COMPANIES[0]
    alias: str = "bluefin-analytics"
    days: int = 28
    seats: int = 5
    commit: int = 20000
    commit_price: int = 18000
    credit: int = 5000
    scheduled_total: int = 18000
    usage_total: int = 32844


BLUEFIN = Bluefin()


class DemoExists(Exception):
    """The demo tenant (or its operator e-mail) is already there; `str()` says what to do."""


@dataclass(frozen=True)
class Seeded:
    tenant_id: str
    token: str
    email: str
    password: str
    customers: int
    events: int
    finalized: int
    earlier: datetime  # the finalized month's start
    later: datetime  # the next month's start (the current period unless seeded in a grace period)


def exists(engine: Engine, tenant: str = TENANT) -> bool:
    with uow.read(engine) as conn:
        return conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).first() is not None


def months(now: datetime, grace: timedelta) -> tuple[datetime, datetime]:
    """The earlier month (one whose invoices are due: its end plus the grace period has passed) and the
    month after it."""
    this = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    earlier = add_months(this, -1)
    if now < this + grace:  # the first day of a month, still inside last month's grace period
        earlier = add_months(this, -2)
    return earlier, add_months(earlier, 1)


def seed(
    engine: Engine,
    now: datetime,
    *,
    tenant: str = TENANT,
    email: str = EMAIL,
    password: str | None = None,
) -> Seeded:
    """Seed the demo tenant as of `now` (the fixed clock of every write); DemoExists if it is there."""
    if exists(engine, tenant):
        raise DemoExists(f"the demo tenant {tenant!r} already exists in this database")
    with uow.read(engine) as conn:
        if _user_exists(conn, email):
            raise DemoExists(f"a console user {email} already exists (choose another --email)")
    password = password or secrets.token_urlsafe(12)
    earlier, later = months(now, timedelta(hours=GRACE_HOURS))
    with uow.write(engine) as conn:
        t = auth.get_or_create_tenant(conn, tenant, now)
        catalog = create_catalog(conn, t, earlier, now)
        book = _customers(conn, t, catalog, earlier, now)
        for contract_id in book.contracts:  # as the API route: evaluated once this write commits
            thresholds.written(conn, engine, t.id, contract_id, now, book.requests[contract_id])
    events = list(_usage(book, earlier, later, now))
    ingest_events(engine, t.id, events, now)
    result = run_pass(engine, FixedClock(now))
    with uow.write(engine) as conn:
        alerts.create(
            conn,
            t.id,
            parse(
                CreateAlert,
                {
                    "alert_type": "spend_threshold_reached",
                    "name": "Bluefin spend over $500",
                    "threshold": 50000,
                    "customer_id": book.customer_ids[0],
                    "credit_type_id": USD_CENTS_ID,
                },
            ),
            now,
        )
        accounts.create_user(conn, t, email, password, "admin", now)
        token = auth.create_token(conn, t, now, name="demo")
    return Seeded(
        t.id,
        token,
        email.strip().lower(),
        password,
        len(book.customer_ids),
        len(events),
        result.finalized,
        earlier,
        later,
    )


def _user_exists(conn: Connection, email: str) -> bool:
    from tally.models.console import console_users

    found = conn.execute(select(console_users.c.id).where(console_users.c.email == email.strip().lower()))
    return found.first() is not None


# ---------------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class Catalog:
    card: str
    api: str
    compute: str
    tokens: str
    platform: str
    seats: str
    prepaid: str
    promo: str


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _metric(conn: Connection, tenant_id: str, now: datetime, body: dict[str, Any]) -> str:
    return metrics.create(conn, tenant_id, parse(CreateMetric, body), now)


def _product(conn: Connection, t: auth.Tenant, now: datetime, body: dict[str, Any]) -> str:
    return products.create(conn, t.id, parse(CreateProduct, body), now, t.name)


def create_catalog(conn: WriteConn, t: auth.Tenant, start: datetime, now: datetime) -> Catalog:
    settings = parse(
        InvoiceSettings,
        {
            "grace_period_hours": GRACE_HOURS,
            "legal_name": "Demo Cloud, Inc.",
            "address_lines": ["100 Market Street", "San Francisco, CA 94105", "United States"],
            "contact_email": "billing@demo-cloud.example",
            "invoice_number_prefix": "DC",
            "default_net_payment_terms_days": 30,
        },
    )
    invoices.set_grace(conn, t.id, Decimal(GRACE_HOURS))
    documents.update_issuer(
        conn,
        t.id,
        {f: getattr(settings, f) for f in documents.ISSUER_FIELDS if f in settings.model_fields_set},
    )
    api_metric = _metric(
        conn,
        t.id,
        now,
        {
            "name": "API requests",
            "aggregation_type": "SUM",
            "aggregation_key": "requests",
            "event_type_filter": {"in_values": ["api_usage"]},
            "property_filters": [{"name": "requests", "exists": True}],
        },
    )
    compute_metric = _metric(
        conn,
        t.id,
        now,
        {
            "name": "Compute hours",
            "aggregation_type": "SUM",
            "aggregation_key": "hours",
            "event_type_filter": {"in_values": ["compute"]},
            "property_filters": [{"name": "hours", "exists": True}, {"name": "region", "exists": True}],
            "group_keys": [["region"]],
        },
    )
    token_metric = _metric(
        conn,
        t.id,
        now,
        {
            "name": "LLM tokens",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["llm_tokens"]},
            "property_filters": [{"name": "tokens", "exists": True}, {"name": "model", "exists": True}],
            "group_keys": [["model"]],
        },
    )
    _metric(  # shown in the catalog and on usage charts; not sold (yet)
        conn,
        t.id,
        now,
        {
            "name": "Active users",
            "aggregation_type": "UNIQUE",
            "aggregation_key": "user_id",
            "event_type_filter": {"in_values": ["api_usage"]},
            "property_filters": [{"name": "user_id", "exists": True}],
        },
    )
    api = _product(conn, t, now, {"name": "API requests", "type": "USAGE", "billable_metric_id": api_metric})
    compute = _product(
        conn,
        t,
        now,
        {
            "name": "Compute",
            "type": "USAGE",
            "billable_metric_id": compute_metric,
            "presentation_group_key": ["region"],
        },
    )
    tokens = _product(
        conn,
        t,
        now,
        {
            "name": "LLM tokens",
            "type": "USAGE",
            "billable_metric_id": token_metric,
            "quantity_conversion": {
                "conversion_factor": 1000,
                "operation": "DIVIDE",
                "name": "per 1K tokens",
            },
        },
    )
    platform = _product(
        conn,
        t,
        now,
        {"name": "Platform fee", "type": "COMPOSITE", "composite_product_ids": [api, compute, tokens]},
    )
    seats = _product(conn, t, now, {"name": "Team seats", "type": "SUBSCRIPTION"})
    prepaid = _product(conn, t, now, {"name": "Prepaid commitment", "type": "FIXED"})
    promo = _product(conn, t, now, {"name": "Promotional credit", "type": "FIXED"})
    card = rate_cards.create(
        conn,
        t.id,
        parse(CreateRateCard, {"name": "Standard pricing", "description": "List prices, USD"}),
        t.name,
        now,
    )
    at = _iso(start)
    body = {
        "rate_card_id": card,
        "rates": [
            {
                "product_id": api,
                "entitled": True,
                "rate_type": "TIERED",
                "starting_at": at,
                "tiers": [
                    {"size": 250000, "price": "0.02"},
                    {"size": 750000, "price": "0.01"},
                    {"price": "0.005"},
                ],
            },
            {"product_id": compute, "entitled": True, "rate_type": "FLAT", "price": 30, "starting_at": at},
            {
                "product_id": tokens,
                "entitled": True,
                "rate_type": "TIERED",
                "starting_at": at,
                "tiers": [{"size": 500, "price": 20}, {"price": 12}],
            },
            {
                "product_id": platform,
                "entitled": True,
                "rate_type": "PERCENTAGE",
                "price": "0.05",
                "starting_at": at,
            },
            {
                "product_id": seats,
                "entitled": True,
                "rate_type": "SUBSCRIPTION",
                "price": 2500,
                "quantity": 1,
                "billing_frequency": "MONTHLY",
                "starting_at": at,
            },
        ],
    }
    req = parse(AddRates, body)
    rates.add(conn, t.id, card, list(req.rates), True, now)
    return Catalog(card, api, compute, tokens, platform, seats, prepaid, promo)


# -------------------------------------------------------------------------------------------- customers


@dataclass
class Book:
    customer_ids: list[str]
    aliases: list[str]
    plans: list[str]
    contracts: list[str]
    requests: dict[str, CreateContract]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def plan_of(i: int) -> str:
    return "Enterprise" if i == 0 or i % 4 == 1 else ("Growth" if i % 4 in (2, 3) else "Starter")


def contract_body(i: int, customer_id: str, c: Catalog, start: datetime) -> dict[str, Any]:
    plan = plan_of(i)
    year = add_months(start, 12)
    rng = random.Random(f"{SEED}-terms-{i}")
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "starting_at": _iso(start),
        "rate_card_id": c.card,
        "name": f"{plan} plan",
        "net_payment_terms_days": 30,
    }
    credit = BLUEFIN.credit if i == 0 else rng.choice([2500, 5000, 10000])
    if plan in ("Growth", "Enterprise"):
        body["credits"] = [
            {
                "product_id": c.promo,
                "name": "Welcome credit",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": credit, "starting_at": _iso(start), "ending_before": _iso(year)}
                    ]
                },
            }
        ]
        seats = BLUEFIN.seats if i == 0 else rng.randint(2, 25)
        body["subscriptions"] = [
            {
                "subscription_rate": {"product_id": c.seats, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
                "initial_quantity": seats,
            }
        ]
    if plan == "Enterprise":
        amount = BLUEFIN.commit if i == 0 else rng.choice([100000, 250000, 500000])
        price = BLUEFIN.commit_price if i == 0 else amount * 9 // 10
        body["commits"] = [
            {
                "type": "PREPAID",
                "product_id": c.prepaid,
                "name": "Annual prepaid commit",
                "priority": 2,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": amount, "starting_at": _iso(start), "ending_before": _iso(year)}
                    ]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": _iso(start), "amount": price}]},
            }
        ]
        if i != 0:
            body["overrides"] = [
                {
                    "starting_at": _iso(start),
                    "product_id": c.tokens,
                    "type": "MULTIPLIER",
                    "multiplier": "0.8",
                }
            ]
    return body


def _customers(conn: WriteConn, t: auth.Tenant, c: Catalog, start: datetime, now: datetime) -> Book:
    book = Book([], [], [], [], {})
    for i, name in enumerate(COMPANIES):
        alias = slug(name)
        customer = customers.create(
            conn, t.id, parse(CreateCustomer, {"name": name, "ingest_aliases": [alias]}), now
        )
        req = parse(CreateContract, contract_body(i, customer.id, c, start))
        contract_id = contracts.create(conn, t.id, req, now, t.name)
        book.customer_ids.append(customer.id)
        book.aliases.append(alias)
        book.plans.append(plan_of(i))
        book.contracts.append(contract_id)
        book.requests[contract_id] = req
    return book


# ------------------------------------------------------------------------------------------------ usage


def _event(tid: str, alias: str, kind: str, ts: datetime, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": tid,
        "customer_id": alias,
        "event_type": kind,
        "timestamp": _iso(ts),
        "properties": props,
    }


def _bluefin_day(month: datetime, d: int) -> Iterator[dict[str, Any]]:
    day = month + timedelta(days=d - 1)
    tag = f"{month:%Y%m}-{d:02d}"
    a = BLUEFIN.alias
    yield _event(
        f"bf-api-{tag}",
        a,
        "api_usage",
        day + timedelta(hours=9),
        {"requests": 20000 + 1000 * d, "user_id": f"u{d % 7}"},
    )
    region = "us-east" if d % 2 else "eu-west"
    yield _event(f"bf-cpu-{tag}", a, "compute", day + timedelta(hours=12), {"hours": 10, "region": region})
    yield _event(
        f"bf-llm-{tag}", a, "llm_tokens", day + timedelta(hours=15), {"tokens": 20000, "model": "atlas-8b"}
    )


def _customer_day(i: int, alias: str, month: datetime, d: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(f"{SEED}-usage-{i}-{month:%Y%m}-{d}")
    profile = random.Random(f"{SEED}-profile-{i}")
    scale = profile.choice([Decimal("0.3"), Decimal(1), Decimal(3), Decimal(8)])
    regions = profile.sample(REGIONS, profile.randint(1, 3))
    llm = profile.random() < 0.6
    day = month + timedelta(days=d - 1)
    tag = f"{month:%Y%m}-{d:02d}"
    if rng.random() < 0.15:  # quiet days
        return
    yield _event(
        f"c{i}-api-{tag}",
        alias,
        "api_usage",
        day + timedelta(hours=rng.randint(0, 23), minutes=rng.randint(0, 59)),
        {"requests": int(scale * rng.randint(5000, 40000)), "user_id": f"u{rng.randint(1, 40)}"},
    )
    for region in regions:
        hours = (scale * Decimal(rng.randint(20, 240)) / 10).quantize(Decimal("0.1"))
        yield _event(
            f"c{i}-cpu-{region}-{tag}",
            alias,
            "compute",
            day + timedelta(hours=rng.randint(0, 23)),
            {"hours": str(hours), "region": region},
        )
    if llm:
        model = rng.choice(MODELS)
        yield _event(
            f"c{i}-llm-{tag}",
            alias,
            "llm_tokens",
            day + timedelta(hours=rng.randint(0, 23), minutes=rng.randint(0, 59)),
            {"tokens": int(scale * rng.randint(5000, 150000)), "model": model},
        )


def _usage(book: Book, earlier: datetime, later: datetime, now: datetime) -> Iterator[dict[str, Any]]:
    """Every customer's events in both months (only those before `now`), then the unmatched ones."""
    for month in (earlier, later):
        days = (add_months(month, 1) - month).days
        for i, alias in enumerate(book.aliases):
            for d in range(1, days + 1):
                if i == 0:
                    day = _bluefin_day(month, d) if d <= BLUEFIN.days else iter(())
                else:
                    day = _customer_day(i, alias, month, d)
                yield from (e for e in day if e["timestamp"] < _iso(now))
    # The console's unmatched events: a trial account nobody created, and an event type no metric counts.
    recent = max(later, now - timedelta(days=3))
    for n in range(12):
        ts = recent + timedelta(hours=n * 5)
        if ts < now:
            yield _event(f"trial-{n}", "trial-7f3a", "api_usage", ts, {"requests": 1200 + 10 * n})
            yield _event(f"pageview-{n}", book.aliases[1], "page_view", ts, {"path": "/pricing"})


def ingest_events(
    engine: Engine, tenant_id: str, events: Iterable[dict[str, Any]], now: datetime, per_txn: int = 10
) -> int:
    """As `POST /v1/ingest`: each request's batch (100 events) validated, then stored; `per_txn` batches a
    transaction, as the ingest writer's group commit does. Returns how many events were sent."""
    sent = 0
    jobs: list[ingest.Job] = []
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with uow.write(engine) as conn:
            ingest.store(conn, jobs)
        events_store.current().committed(engine)
        jobs.clear()

    for e in events:
        batch.append(e)
        if len(batch) == ingest.MAX_BATCH:
            jobs.append(ingest.Job(tenant_id, ingest.validate(batch, now), now))
            sent, batch = sent + len(batch), []
            if len(jobs) == per_txn:
                flush()
    if batch:
        jobs.append(ingest.Job(tenant_id, ingest.validate(batch, now), now))
        sent += len(batch)
    if jobs:
        flush()
    return sent
