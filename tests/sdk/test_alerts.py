"""Alerts (threshold notifications, SPEC §8.1) through the official SDK in strict mode, on every backend,
on a server run with `--test-clock`: each supported type crosses its threshold after ingest or balance
draw-down, its customer status flips to in_alarm, and exactly one webhook event is staged per transition
(read straight from the outbox table). Every figure is computed by hand in the comments (USD cents).

Scenario (`setup`): contract from T0 (a month start), one USAGE product "API" at FLAT 100 per call;
with balances, a free credit of 1,000 (priority 1, drawn first) and a prepaid commit of 5,000
(priority 2), both usable for 12 months unless the test shortens them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome
from sqlalchemy import Engine, select

from tally.db import uow
from tally.db.engine import make_engine
from tally.models.alerts import alert_states
from tally.models.webhooks import webhook_events
from tally.rating.periods import add_months
from tally.settings import sqlite_url
from tests.conftest import Running
from tests.sdk.invoice_support import (  # noqa: F401
    clock_now,
    clock_server,
    fresh_month,
    iso,
    month_start,
    set_clock,
)

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
PRICE = 100  # cents per API call


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk()


@pytest.fixture(scope="module")
def b(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk(clock_server.token_b)


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:  # noqa: F811
    with clock_server.http() as c:
        yield c


@pytest.fixture(scope="module")
def engine(clock_server: Running) -> Iterator[Engine]:  # noqa: F811
    env = clock_server.server.env
    if "TALLY_DATABASE_URL" in env:
        url = "postgresql+psycopg://" + env["TALLY_DATABASE_URL"].split("://", 1)[1]
        e = make_engine(url, pool_size=2)
    else:
        e = make_engine(sqlite_url(Path(env["TALLY_DATA_DIR"])), pool_size=2)
    yield e
    e.dispose()


def events_of(engine: Engine, alert_id: str) -> list[dict[str, Any]]:
    """The webhook events staged for one alert, oldest first, as {"type": ..., **properties}."""
    with uow.read(engine) as conn:
        rows = conn.execute(
            select(webhook_events.c.type, webhook_events.c.properties).order_by(
                webhook_events.c.created_at, webhook_events.c.id
            )
        ).all()
    return [{"type": r.type, **r.properties} for r in rows if r.properties.get("alert_id") == alert_id]


@dataclass
class Setup:
    t0: datetime
    customer: str
    alias: str
    metric: str
    api: str
    event: str
    contract: str
    commit: str | None
    credit: str | None
    commit_segment: str | None
    credit_segment: str | None


def setup(
    a: Metronome,
    h: httpx.Client,
    uid: str,
    *,
    balances: bool = True,
    commit_end: datetime | None = None,
    credit_end: datetime | None = None,
) -> Setup:
    t0 = fresh_month(h)
    year = add_months(t0, 12)
    event = f"call_{uid}"
    metric = a.v1.billable_metrics.create(
        name=f"calls {uid}", aggregation_type="COUNT", event_type_filter={"in_values": [event]}
    ).data.id
    api = a.v1.contracts.products.create(name=f"API {uid}", type="USAGE", billable_metric_id=metric).data.id
    fixed = a.v1.contracts.products.create(name=f"Prepaid {uid}", type="FIXED").data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=api, entitled=True, rate_type="FLAT", price=PRICE, starting_at=t0
    )
    alias = f"al-{uid}"
    customer = a.v1.customers.create(name=f"Alert customer {uid}", ingest_aliases=[alias]).data.id
    extra: dict[str, Any] = {}
    if balances:
        extra["commits"] = [
            {
                "type": "PREPAID",
                "product_id": fixed,
                "name": "Prepaid commit",
                "priority": 2,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 5000, "starting_at": t0, "ending_before": commit_end or year}
                    ]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": t0, "amount": 5000}]},
            }
        ]
        extra["credits"] = [
            {
                "product_id": fixed,
                "name": "Credit",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 1000, "starting_at": t0, "ending_before": credit_end or year}
                    ]
                },
            }
        ]
    contract = a.v1.contracts.create(customer_id=customer, starting_at=t0, rate_card_id=card, **extra).data.id
    got = a.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data
    commit = got.commits[0] if got.commits else None
    credit = (got.credits or [None])[0]
    return Setup(
        t0,
        customer,
        alias,
        metric,
        api,
        event,
        contract,
        commit.id if commit else None,
        credit.id if credit else None,
        commit.access_schedule.schedule_items[0].id if commit else None,
        credit.access_schedule.schedule_items[0].id if credit and credit.access_schedule else None,
    )


def calls(a: Metronome, s: Setup, n: int, tag: str, alias: str | None = None) -> None:
    """`n` API calls one hour into the period (the clock stands a day or more after T0)."""
    a.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{s.event}-{tag}-{i}",
                "customer_id": alias or s.alias,
                "event_type": s.event,
                "timestamp": iso(s.t0 + timedelta(hours=1)),
                "properties": {},
            }
            for i in range(n)
        ]
    )


def tick(h: httpx.Client, by: timedelta = timedelta(seconds=1)) -> None:
    """Move the test clock; the server runs a worker pass (alerts included) before answering."""
    set_clock(h, clock_now(h) + by)


def status(a: Metronome, alert: str, customer: str, **kw: Any) -> tuple[str | None, str | None]:
    got = a.v1.customers.alerts.retrieve(alert_id=alert, customer_id=customer, **kw).data
    return got.customer_status, got.triggered_by


# ----------------------------------------------------------------------------------------- spend


def test_spend_threshold_notifies_once_per_crossing(
    a: Metronome, h: httpx.Client, engine: Engine, uid: str
) -> None:
    s = setup(a, h, uid)
    alert = a.v1.alerts.create(
        alert_type="spend_threshold_reached", name=f"spend {uid}", threshold=1000, customer_id=s.customer
    ).data.id
    got = a.v1.customers.alerts.retrieve(alert_id=alert, customer_id=s.customer).data
    assert (got.customer_status, got.alert.status, got.alert.threshold) == ("ok", "enabled", 1000)
    assert got.alert.type == "spend_threshold_reached"
    assert got.alert.credit_type is not None
    assert got.alert.credit_type.id == USD  # the default

    # 12 calls x 100 = 1,200 of usage spend, counted BEFORE the 1,000 credit and the commit pay for it.
    calls(a, s, 12, "a")
    assert status(a, alert, s.customer) == ("ok", None)  # evaluated by the worker, not by ingest
    tick(h)
    assert status(a, alert, s.customer) == ("in_alarm", "usage")
    [ev] = events_of(engine, alert)
    assert ev["type"] == "alerts.spend_threshold_reached"
    assert (ev["spend"], ev["threshold"], ev["credit_type_id"]) == (1200, 1000, USD)
    assert (ev["customer_id"], ev["alert_name"], ev["triggered_by"]) == (s.customer, f"spend {uid}", "usage")
    assert ev["timestamp"].endswith("Z")

    # Still above (1,500): no new transition, no new event.
    calls(a, s, 3, "b")
    tick(h)
    assert status(a, alert, s.customer)[0] == "in_alarm"
    assert len(events_of(engine, alert)) == 1

    # Reset forgets the status and re-evaluates at once: still 1,500 >= 1,000, a new transition.
    assert a.v1.customers.alerts.reset(alert_id=alert, customer_id=s.customer) is None
    assert status(a, alert, s.customer) == ("in_alarm", "reset")
    evs = events_of(engine, alert)
    assert [(e["spend"], e["triggered_by"]) for e in evs] == [(1200, "usage"), (1500, "reset")]

    # Archive: irreversible, idempotent; the alert leaves the default list and shows a null status.
    assert a.v1.alerts.archive(id=alert).data.id == alert
    assert a.v1.alerts.archive(id=alert).data.id == alert
    listed = [x.alert.id for x in a.v1.customers.alerts.list(customer_id=s.customer)]
    assert alert not in listed
    archived = [
        x
        for x in a.v1.customers.alerts.list(customer_id=s.customer, alert_statuses=["ARCHIVED"])
        if x.alert.id == alert
    ]
    assert [(x.alert.status, x.customer_status) for x in archived] == [("archived", None)]
    calls(a, s, 50, "c")
    tick(h)
    assert len(events_of(engine, alert)) == 2  # archived alerts stop evaluating


def test_group_scoped_spend_rates_each_group_alone(
    a: Metronome, h: httpx.Client, engine: Engine, uid: str
) -> None:
    """Tokens priced TIERED (first 500 at 2, then 1), grouped by region for presentation. A group-scoped
    alert re-rates the group's usage alone, so each group gets its own first tier."""
    t0 = fresh_month(h)
    event = f"tok_{uid}"
    metric = a.v1.billable_metrics.create(
        name=f"tokens {uid}",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": [event]},
        property_filters=[{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    ).data.id
    product = a.v1.contracts.products.create(
        name=f"Tokens {uid}", type="USAGE", billable_metric_id=metric, presentation_group_key=["region"]
    ).data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=product,
        entitled=True,
        rate_type="TIERED",
        starting_at=t0,
        tiers=[{"size": 500, "price": 2}, {"price": 1}],
    )
    customer = a.v1.customers.create(name=f"groups {uid}", ingest_aliases=[f"g-{uid}"]).data.id
    a.v1.contracts.create(customer_id=customer, starting_at=t0, rate_card_id=card)
    eu = a.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="eu",
        threshold=500,
        customer_id=customer,
        group_values=[{"key": "region", "value": "eu"}],
    ).data.id
    each = a.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="each region",
        threshold=1000,
        customer_id=customer,
        group_values=[{"key": "region"}],
    ).data.id

    def tokens(n: int, region: str, tag: str) -> None:
        a.v1.usage.ingest(
            usage=[
                {
                    "transaction_id": f"{uid}-{tag}",
                    "customer_id": f"g-{uid}",
                    "event_type": event,
                    "timestamp": iso(t0 + timedelta(hours=2)),
                    "properties": {"tokens": n, "region": region},
                }
            ]
        )

    # us 800 -> 500 x 2 + 300 x 1 = 1,300 >= 1,000; eu 200 -> 200 x 2 = 400 (< 500, < 1,000).
    tokens(800, "us", "1")
    tokens(200, "eu", "2")
    tick(h)
    assert status(a, eu, customer)[0] == "ok"
    assert status(a, each, customer)[0] == "in_alarm"
    assert status(a, each, customer, group_values=[{"key": "region", "value": "us"}])[0] == "in_alarm"
    assert status(a, each, customer, group_values=[{"key": "region", "value": "eu"}])[0] == "ok"
    [ev] = events_of(engine, each)
    assert (ev["spend"], ev["group_values"]) == (1300, {"region": "us"})
    got = a.v1.customers.alerts.retrieve(alert_id=eu, customer_id=customer).data
    assert [(g.key, g.value) for g in got.alert.group_values or []] == [("region", "eu")]

    # eu +100 -> 300 x 2 = 600 >= 500: the eu alert fires; for "each" eu (600) is still below 1,000.
    tokens(100, "eu", "3")
    tick(h)
    assert status(a, eu, customer)[0] == "in_alarm"
    assert [(e["spend"], e["group_values"]) for e in events_of(engine, eu)] == [(600, {"region": "eu"})]
    assert len(events_of(engine, each)) == 1
    with pytest.raises(metronome.BadRequestError, match="group"):
        a.v1.customers.alerts.retrieve(
            alert_id=eu, customer_id=customer, group_values=[{"key": "region", "value": "us"}]
        )


# ----------------------------------------------------------------------------------------- usage


def test_usage_threshold_and_evaluate_on_create(
    a: Metronome, h: httpx.Client, engine: Engine, uid: str
) -> None:
    s = setup(a, h, uid, balances=False)
    calls(a, s, 10, "a")  # 10 calls in the current period
    # evaluate_on_create defaults to true: a customer already past the threshold is notified at once.
    on = a.v1.alerts.create(
        alert_type="usage_threshold_reached",
        name="10 calls",
        threshold=10,
        billable_metric_id=s.metric,
        customer_id=s.customer,
    ).data.id
    assert status(a, on, s.customer) == ("in_alarm", "alert_created")
    [ev] = events_of(engine, on)
    assert (ev["type"], ev["usage"], ev["billable_metric_id"]) == (
        "alerts.usage_threshold_reached",
        10,
        s.metric,
    )
    assert "credit_type_id" not in ev
    # evaluate_on_create false: the status is still true, but only a later crossing notifies.
    off = a.v1.alerts.create(
        alert_type="usage_threshold_reached",
        name="10 calls, quiet",
        threshold=10,
        billable_metric_id=s.metric,
        customer_id=s.customer,
        evaluate_on_create=False,
    ).data.id
    assert status(a, off, s.customer)[0] == "in_alarm"
    assert events_of(engine, off) == []
    later = a.v1.alerts.create(
        alert_type="usage_threshold_reached",
        name="15 calls",
        threshold=15,
        billable_metric_id=s.metric,
        customer_id=s.customer,
        evaluate_on_create=False,
    ).data.id
    assert status(a, later, s.customer)[0] == "ok"
    calls(a, s, 5, "b")  # 15 calls
    tick(h)
    assert status(a, later, s.customer) == ("in_alarm", "usage")
    assert [e["usage"] for e in events_of(engine, later)] == [15]
    assert len(events_of(engine, on)) == 1
    assert events_of(engine, off) == []


def test_all_customer_alert_sweeps_then_follows_new_customers(
    a: Metronome, h: httpx.Client, engine: Engine, uid: str
) -> None:
    s = setup(a, h, uid, balances=False)
    calls(a, s, 6, "a")
    alert = a.v1.alerts.create(
        alert_type="usage_threshold_reached", name="every customer", threshold=5, billable_metric_id=s.metric
    ).data.id
    # No customer is rated inside the request: the worker's next pass sweeps them.
    assert status(a, alert, s.customer) == ("evaluating", None)
    tick(h)
    assert status(a, alert, s.customer) == ("in_alarm", "alert_created")  # 6 calls >= 5
    # A customer created afterwards is followed too, and notified when it crosses.
    alias2 = f"al2-{uid}"
    other = a.v1.customers.create(name=f"second {uid}", ingest_aliases=[alias2]).data.id
    contract = a.v2.contracts.retrieve(customer_id=s.customer, contract_id=s.contract).data
    a.v1.contracts.create(customer_id=other, starting_at=s.t0, rate_card_id=contract.rate_card_id)
    calls(a, s, 4, "b", alias=alias2)
    tick(h)
    assert status(a, alert, other)[0] == "ok"  # 4 calls
    calls(a, s, 1, "c", alias=alias2)
    tick(h)
    assert status(a, alert, other) == ("in_alarm", "usage")  # 5 calls
    assert sorted((e["customer_id"], e["usage"]) for e in events_of(engine, alert)) == sorted(
        [(s.customer, 6), (other, 5)]
    )
    assert alert in [x.alert.id for x in a.v1.customers.alerts.list(customer_id=other)]
    a.v1.alerts.archive(id=alert)


# -------------------------------------------------------------------------------------- balances


def test_balance_alerts_count_the_draft_draw_down(
    a: Metronome, h: httpx.Client, engine: Engine, uid: str
) -> None:
    s = setup(a, h, uid)
    cid = s.customer

    def make(alert_type: Any, threshold: int) -> str:
        return a.v1.alerts.create(
            alert_type=alert_type, name=alert_type, threshold=threshold, customer_id=cid
        ).data.id

    commit_low = make("low_remaining_commit_balance_reached", 2000)
    credit_low = make("low_remaining_contract_credit_balance_reached", 0)
    both_low = make("low_remaining_contract_credit_and_commit_balance_reached", 1000)
    commit_pct = make("low_remaining_commit_percentage_reached", 20)
    alerts = [commit_low, credit_low, both_low, commit_pct]
    # Nothing used: commit 5,000 (100 %), credit 1,000, together 6,000.
    assert [status(a, x, cid)[0] for x in alerts] == ["ok"] * 4

    # 12 calls = 1,200 on the draft: the credit (priority 1) pays 1,000 -> 0 left, the commit 200 -> 4,800.
    calls(a, s, 12, "a")
    tick(h)
    assert [status(a, x, cid)[0] for x in alerts] == ["ok", "in_alarm", "ok", "ok"]
    [ev] = events_of(engine, credit_low)
    assert (ev["type"], ev["remaining_balance"], ev["triggered_by"]) == (
        "alerts.low_remaining_contract_credit_balance_reached",
        0,
        "usage",
    )

    # 40 more = 52 calls = 5,200: credit 1,000, commit 4,200 -> 800 left (16 % of 5,000); together 800.
    calls(a, s, 40, "b")
    tick(h)
    assert [status(a, x, cid)[0] for x in alerts] == ["in_alarm"] * 4
    assert [e["remaining_balance"] for e in events_of(engine, commit_low)] == [800]
    assert [e["remaining_balance"] for e in events_of(engine, both_low)] == [800]
    [pct] = events_of(engine, commit_pct)
    assert (pct["remaining_percentage"], pct["remaining_balance"], pct["granted_balance"]) == (16, 800, 5000)
    # The ledger has drawn nothing yet (the invoice is a draft): the alerts saw the draft draw-down.
    balances = {x.id: x.balance for x in a.v1.contracts.list_balances(customer_id=cid, include_balance=True)}
    assert balances == {s.commit: 5000, s.credit: 1000}

    # Finalize the period (end + 24 h grace): the draft draw-down becomes ledger rows; nothing crosses again.
    set_clock(h, add_months(s.t0, 1) + timedelta(hours=25))
    balances = {x.id: x.balance for x in a.v1.contracts.list_balances(customer_id=cid, include_balance=True)}
    assert balances == {s.commit: 800, s.credit: 0}
    assert [status(a, x, cid)[0] for x in alerts] == ["in_alarm"] * 4
    assert [len(events_of(engine, x)) for x in alerts] == [1, 1, 1, 1]


def test_days_left_on_each_segment(a: Metronome, h: httpx.Client, engine: Engine, uid: str) -> None:
    # Start of next month + 1 day: the clock stands 1 day and a second after T0.
    t0 = add_months(month_start(clock_now(h)), 1)
    set_clock(h, t0 + timedelta(days=1, seconds=1))
    s = setup(a, h, uid, commit_end=t0 + timedelta(days=40), credit_end=t0 + timedelta(days=20))
    now = clock_now(h)
    commit_days = a.v1.alerts.create(
        alert_type="low_remaining_days_for_commit_segment_reached",
        name="commit",
        threshold=30,
        customer_id=s.customer,
    ).data.id
    credit_days = a.v1.alerts.create(
        alert_type="low_remaining_days_for_contract_credit_segment_reached",
        name="credit",
        threshold=30,
        customer_id=s.customer,
    ).data.id
    # Credit: T0+20d - now = 19 days less a second <= 30 -> in alarm at creation. Commit: ~39 days -> ok.
    assert status(a, credit_days, s.customer) == ("in_alarm", "alert_created")
    assert status(a, commit_days, s.customer)[0] == "ok"
    [ev] = events_of(engine, credit_days)
    assert (ev["credit_id"], ev["segment_id"], ev["remaining_balance"]) == (s.credit, s.credit_segment, 1000)
    left = t0 + timedelta(days=20) - now  # whole seconds: the test clock moves by seconds
    assert ev["remaining_days"] == (Decimal(left.days * 86400 + left.seconds) / 86400).quantize(
        Decimal("0.0001")
    )
    # Time alone crosses the commit's threshold at T0+40d-30d = T0+10d; an hour later 29 23/24 days remain.
    set_clock(h, t0 + timedelta(days=10, hours=1))
    assert status(a, commit_days, s.customer) == ("in_alarm", "schedule")
    [ev] = events_of(engine, commit_days)
    assert (ev["commit_id"], ev["segment_id"]) == (s.commit, s.commit_segment)
    assert ev["remaining_days"] == Decimal("29.9583")  # 29 + 23/24 = 29.958333..., to 4 places
    assert len(events_of(engine, credit_days)) == 1


# -------------------------------------------------------------------------------------- invoices


def test_invoice_totals(a: Metronome, h: httpx.Client, engine: Engine, uid: str) -> None:
    s = setup(a, h, uid, balances=False)
    cid = s.customer
    total = a.v1.alerts.create(
        alert_type="invoice_total_reached", name="invoice", threshold=1000, customer_id=cid
    ).data.id
    scheduled_only = a.v1.alerts.create(
        alert_type="invoice_total_reached",
        name="scheduled",
        threshold=1,
        customer_id=cid,
        invoice_types_filter=["SCHEDULED"],
    ).data.id
    monthly = a.v1.alerts.create(
        alert_type="monthly_invoice_total_spend_threshold_reached",
        name="month",
        threshold=1500,
        customer_id=cid,
    ).data.id
    # 12 calls -> the draft's net total is 1,200 (no commits or credits).
    calls(a, s, 12, "a")
    tick(h)
    draft = next(i for i in a.v1.customers.invoices.list(customer_id=cid, type="USAGE"))
    assert draft.total == 1200
    assert status(a, total, cid)[0] == "in_alarm"
    [ev] = events_of(engine, total)
    assert (ev["invoice_total"], ev["invoice_id"], ev["invoice_type"]) == (1200, draft.id, "USAGE")
    assert status(a, scheduled_only, cid)[0] == "ok"  # no SCHEDULED invoice at all
    assert status(a, monthly, cid)[0] == "ok"  # 1,200 < 1,500
    calls(a, s, 3, "b")  # 1,500
    tick(h)
    assert status(a, monthly, cid)[0] == "in_alarm"
    assert [(e["invoice_total"], e["invoice_ids"]) for e in events_of(engine, monthly)] == [
        (1500, [draft.id])
    ]
    got = a.v1.customers.alerts.retrieve(alert_id=scheduled_only, customer_id=cid).data
    assert got.alert.invoice_types_filter == ["SCHEDULED"]


# ----------------------------------------------------------------------------------------- cost


def evaluated_at(engine: Engine, alert_id: str, customer_id: str) -> datetime:
    with uow.read(engine) as conn:
        found: datetime = conn.execute(
            select(alert_states.c.evaluated_at).where(
                alert_states.c.alert_id == alert_id, alert_states.c.customer_id == customer_id
            )
        ).scalar_one()
    return found


def test_a_customer_nothing_happened_to_is_not_rated_again(
    a: Metronome, h: httpx.Client, engine: Engine, uid: str
) -> None:
    s = setup(a, h, uid, balances=False)
    alert = a.v1.alerts.create(
        alert_type="spend_threshold_reached", name="cost", threshold=1000, customer_id=s.customer
    ).data.id
    calls(a, s, 1, "a")
    tick(h, timedelta(seconds=31))  # new events: evaluated
    first = evaluated_at(engine, alert, s.customer)
    assert first == clock_now(h)
    # The events are now older than the last pass (less the 30 s slack) and no boundary is due: passes
    # go by without rating this customer.
    tick(h, timedelta(seconds=31))
    tick(h)
    assert evaluated_at(engine, alert, s.customer) == first
    calls(a, s, 1, "b")
    tick(h)
    assert evaluated_at(engine, alert, s.customer) == clock_now(h)
    assert status(a, alert, s.customer)[0] == "ok"  # 2 calls = 200 < 1,000


# ------------------------------------------------------------------------------------- refusals


def test_refusals_and_uniqueness(a: Metronome, b: Metronome, h: httpx.Client, uid: str) -> None:
    customer = a.v1.customers.create(name=f"refusals {uid}").data.id
    for plans in (
        "low_credit_balance_reached",
        "low_remaining_credit_percentage_reached",
        "low_remaining_days_in_plan_reached",
    ):
        with pytest.raises(metronome.BadRequestError, match="Plans"):
            a.v1.alerts.create(alert_type=plans, name="p", threshold=10, customer_id=customer)  # type: ignore[arg-type]
    with pytest.raises(metronome.BadRequestError, match="seat"):
        a.v1.alerts.create(
            alert_type="low_remaining_seat_balance_reached",
            name="seats",
            threshold=1,
            seat_filter={"seat_group_key": "user_id"},
        )
    with pytest.raises(metronome.BadRequestError, match="billable_metric_id"):
        a.v1.alerts.create(alert_type="usage_threshold_reached", name="u", threshold=1)
    with pytest.raises(metronome.BadRequestError, match="group_values"):
        a.v1.alerts.create(
            alert_type="invoice_total_reached", name="g", threshold=1, group_values=[{"key": "region"}]
        )
    with pytest.raises(metronome.BadRequestError, match="invoice_types_filter"):
        a.v1.alerts.create(
            alert_type="invoice_total_reached", name="t", threshold=1, invoice_types_filter=["PLAN_ARREARS"]
        )
    with pytest.raises(metronome.BadRequestError, match="credit_type_id"):
        a.v1.alerts.create(
            alert_type="low_remaining_commit_balance_reached",
            name="q",
            threshold=1,
            access_type="QUANTITY",
            credit_type_id=USD,
        )

    # uniqueness_key: a reuse is a 409 until the holder is archived with release_uniqueness_key.
    key = f"uk-{uid}"
    first = a.v1.alerts.create(
        alert_type="spend_threshold_reached", name="u1", threshold=5, customer_id=customer, uniqueness_key=key
    ).data.id
    with pytest.raises(metronome.ConflictError):
        a.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="u2",
            threshold=5,
            customer_id=customer,
            uniqueness_key=key,
        )
    a.v1.alerts.archive(id=first)
    with pytest.raises(metronome.ConflictError):  # archiving alone keeps the key
        a.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="u2",
            threshold=5,
            customer_id=customer,
            uniqueness_key=key,
        )
    a.v1.alerts.archive(id=first, release_uniqueness_key=True)
    second = a.v1.alerts.create(
        alert_type="spend_threshold_reached", name="u2", threshold=5, customer_id=customer, uniqueness_key=key
    ).data.id
    got = a.v1.customers.alerts.retrieve(alert_id=second, customer_id=customer).data
    assert got.alert.uniqueness_key == key

    # Another tenant's ids are unknown: its customer for a new alert, our alert for its reads and writes.
    theirs = b.v1.customers.create(name=f"other tenant {uid}").data.id
    with pytest.raises(metronome.NotFoundError):
        a.v1.alerts.create(alert_type="spend_threshold_reached", name="x", threshold=5, customer_id=theirs)
    with pytest.raises(metronome.NotFoundError):
        b.v1.customers.alerts.retrieve(alert_id=second, customer_id=customer)
    with pytest.raises(metronome.NotFoundError):
        b.v1.customers.alerts.reset(alert_id=second, customer_id=customer)
    with pytest.raises(metronome.NotFoundError):
        b.v1.alerts.archive(id=second)
    with pytest.raises(metronome.NotFoundError):
        b.v1.customers.alerts.list(customer_id=customer).data  # noqa: B018
    # An alert for one customer does not exist for another.
    stranger = a.v1.customers.create(name=f"stranger {uid}").data.id
    with pytest.raises(metronome.NotFoundError):
        a.v1.customers.alerts.retrieve(alert_id=second, customer_id=stranger)
    assert (
        a.v1.customers.alerts.retrieve(alert_id=second, customer_id=customer).data.alert.status == "enabled"
    )
