"""Threshold billing through the official SDK in strict mode, on every backend, on a server run with
`--test-clock` (SPEC §5.10 spend thresholds, §5.11 prepaid-balance recharge). Amounts are USD cents.

Every contract below rates one USAGE product, "Spend": a SUM of the event property `cents`, FLAT price 1,
so an event carrying `cents: N` charges N cents. A threshold evaluation runs on every worker pass (each
`POST /tally/v1/test-clock`) and right after a create / v2 edit that carries a configuration.

Recharge (SPEC §5.11 example): free credit 10,000; threshold 2,000, recharge_to 10,000, payment_fraction
0.9. Usage 8,050 -> the draft draws 8,050 from the credit -> balance 10,000 - 8,050 = 1,950 <= 2,000 ->
commit of 10,000 - 1,950 = 8,050, invoiced at 0.9 x 8,050 = 7,245 (cost basis 7,245 / 8,050 = 0.9).

Spend threshold (SPEC §5.10 example): threshold 10,000. Usage 10,230 -> uncovered 10,230 >= 10,000 ->
threshold commit 10,230, invoiced 10,230. Then 4,000 more -> uncovered 14,230 - 10,230 = 4,000 < 10,000
-> nothing; the usage invoice shows 14,230 usage - 10,230 commit applied = 4,000 due.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.sdk.invoice_support import (
    clock_now,
    clock_server,  # noqa: F401 - fixture
    fresh_month,
    iso,
    set_clock,
)

GATE: Any = {"payment_gate_type": "NONE"}
USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk()


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:  # noqa: F811
    with clock_server.http() as c:
        yield c


@dataclass
class Setup:
    t0: datetime  # the current month's start; contracts start here
    customer: str
    alias: str
    event: str
    spend: str  # USAGE product, FLAT 1 per cent
    fixed: str  # FIXED product for commits and credits
    card: str


def _setup(a: Metronome, h: httpx.Client, tag: str) -> Setup:
    t0 = fresh_month(h)
    uid = f"{tag}{iso(clock_now(h)).replace(':', '').replace('-', '')}"
    event = f"spend_{uid}"
    metric = a.v1.billable_metrics.create(
        name=f"cents {uid}",
        aggregation_type="SUM",
        aggregation_key="cents",
        event_type_filter={"in_values": [event]},
        property_filters=[{"name": "cents", "exists": True}],
    ).data.id
    spend = a.v1.contracts.products.create(
        name=f"Spend {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    fixed = a.v1.contracts.products.create(name=f"Threshold {uid}", type="FIXED").data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=spend, entitled=True, rate_type="FLAT", price=1, starting_at=t0
    )
    alias = f"thr-{uid}"
    customer = a.v1.customers.create(name=f"Threshold customer {uid}", ingest_aliases=[alias]).data.id
    return Setup(t0, customer, alias, event, spend, fixed, card)


def _use(a: Metronome, s: Setup, tag: str, at: datetime, cents: int) -> None:
    a.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{s.alias}-{tag}",
                "customer_id": s.alias,
                "event_type": s.event,
                "timestamp": iso(at),
                "properties": {"cents": str(cents)},
            }
        ]
    )


def _recharge_cfg(s: Setup, threshold: int, recharge_to: int, **extra: Any) -> Any:
    return {
        "commit": {"product_id": s.fixed, "name": "Auto-recharge"},
        "is_enabled": True,
        "payment_gate_config": GATE,
        "threshold_amount": threshold,
        "recharge_to_amount": recharge_to,
        **extra,
    }


def _spend_cfg(s: Setup, threshold: int, **extra: Any) -> Any:
    return {
        "commit": {"product_id": s.fixed, "name": "Spend threshold"},
        "is_enabled": True,
        "payment_gate_config": GATE,
        "threshold_amount": threshold,
        **extra,
    }


def _credit(s: Setup, amount: int) -> Any:
    return {
        "product_id": s.fixed,
        "name": "Starter credit",
        "priority": 1,
        "access_schedule": {
            "schedule_items": [
                {"amount": amount, "starting_at": iso(s.t0), "ending_before": iso(add_months(s.t0, 12))}
            ]
        },
    }


def _threshold_commits(a: Metronome, s: Setup, contract: str) -> list[Any]:
    got = a.v2.contracts.retrieve(customer_id=s.customer, contract_id=contract).data
    return [c for c in got.commits if c.product.id == s.fixed]


def _purchase_invoices(a: Metronome, s: Setup) -> list[Any]:
    return [
        inv
        for inv in a.v1.customers.invoices.list(customer_id=s.customer)
        if inv.type == "SCHEDULED" and any(li.type == "commit_purchase" for li in inv.line_items)
    ]


def _tick(h: httpx.Client, minutes: int = 1) -> datetime:
    """Move the clock on and run a worker pass; returns the new time."""
    t = clock_now(h).replace(microsecond=0) + timedelta(minutes=minutes)
    set_clock(h, t)
    return t


def test_prepaid_balance_recharge(a: Metronome, h: httpx.Client) -> None:
    s = _setup(a, h, "rc")
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        credits=[_credit(s, 10000)],
        prepaid_balance_threshold_configuration=_recharge_cfg(
            s, 2000, 10000, discount_configuration={"payment_fraction": 0.9}
        ),
    ).data.id
    # Balance 10,000 > 2,000: the immediate evaluation on create grants nothing.
    assert _threshold_commits(a, s, contract) == []
    _use(a, s, "u1", s.t0 + timedelta(hours=1), 8050)
    at = _tick(h)
    commits = _threshold_commits(a, s, contract)
    assert len(commits) == 1
    c = commits[0]
    start = at.replace(minute=0, second=0)  # access from the start of the evaluation's hour
    assert c.type == "PREPAID"
    assert c.name == "Auto-recharge"
    assert c.priority == 100  # SDK default for threshold commits
    assert c.access_schedule is not None
    assert [(i.amount, i.starting_at, i.ending_before) for i in c.access_schedule.schedule_items] == [
        (8050, start, add_months(start, 12))  # 10,000 - 1,950; default duration one year
    ]
    assert c.invoice_schedule is not None
    assert [(i.amount, i.timestamp) for i in c.invoice_schedule.schedule_items] == [(7245, at)]  # 0.9 x 8,050
    assert c.cost_basis == pytest.approx(0.9)  # 7,245 / 8,050
    invoices = _purchase_invoices(a, s)
    assert len(invoices) == 1
    inv = invoices[0]
    assert (inv.status, inv.total, inv.issued_at, inv.contract_id) == ("FINALIZED", 7245, at, contract)
    assert [(li.type, li.commit_id, li.total) for li in inv.line_items] == [("commit_purchase", c.id, 7245)]
    assert c.invoice_schedule.schedule_items[0].invoice_id == inv.id
    # The balance now: draft draw-down 8,050 from the credit, the new commit untouched -> 1,950 + 8,050.
    usage = [i for i in a.v1.customers.invoices.list(customer_id=s.customer) if i.type == "USAGE"]
    assert [(i.status, i.total) for i in usage] == [("DRAFT", 0)]  # 8,050 usage - 8,050 credit
    # Repeated passes, at a later time and at the very same time, grant nothing more.
    again = _tick(h)
    set_clock(h, again)
    assert len(_threshold_commits(a, s, contract)) == 1
    assert len(_purchase_invoices(a, s)) == 1


def test_recharge_again_with_a_capped_discount(a: Metronome, h: httpx.Client) -> None:
    s = _setup(a, h, "rt")
    tracker = {
        "alias": "recharges",
        "credit_type_id": USD,
        "reset_frequency": "BILLING_PERIOD",
        "applicable_spend_specifiers": [{"spend_type": "COMMIT_PURCHASE", "sources": ["THRESHOLD_RECHARGE"]}],
    }
    discount = {"payment_fraction": 0.5, "cap": {"amount": 1000, "spend_tracker_alias": "recharges"}}
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        credits=[_credit(s, 3000)],
        spend_trackers=[tracker],
        prepaid_balance_threshold_configuration=_recharge_cfg(s, 1000, 3000, discount_configuration=discount),
    ).data.id
    # Usage 2,500 -> balance 3,000 - 2,500 = 500 <= 1,000 -> recharge 3,000 - 500 = 2,500; the tracker
    # has seen 0 < 1,000 of recharges this period, so it is discounted: 0.5 x 2,500 = 1,250.
    _use(a, s, "u1", s.t0 + timedelta(hours=1), 2500)
    first = _tick(h)
    # 2,200 more, stamped after the recharge's access start. Draw-down: the credit's 500 left first
    # (priority 1), then the recharge commit (priority 100) 1,700 -> balance 2,500 - 1,700 = 800 <= 1,000
    # -> recharge 3,000 - 800 = 2,200; the tracker now holds 1,250 >= the 1,000 cap -> full price 2,200.
    _use(a, s, "u2", first + timedelta(minutes=30), 2200)
    _tick(h, minutes=90)
    commits = sorted(
        _threshold_commits(a, s, contract),
        key=lambda c: c.access_schedule.schedule_items[0].amount if c.access_schedule else 0,
    )
    assert [
        (c.access_schedule.schedule_items[0].amount, c.invoice_schedule.schedule_items[0].amount)
        for c in commits
        if c.access_schedule and c.invoice_schedule
    ] == [(2200, 2200), (2500, 1250)]
    flags = [c.spend_tracker_attributes.counts_as_discounted for c in commits if c.spend_tracker_attributes]
    assert flags == [False, True]
    assert sorted(inv.total for inv in _purchase_invoices(a, s)) == [1250, 2200]


def test_spend_threshold_commit_covers_the_usage(a: Metronome, h: httpx.Client) -> None:
    s = _setup(a, h, "sp")
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        spend_threshold_configuration=_spend_cfg(s, 10000),
    ).data.id
    _use(a, s, "u1", s.t0 + timedelta(hours=1), 10230)
    at = _tick(h)
    commits = _threshold_commits(a, s, contract)
    assert len(commits) == 1
    c = commits[0]
    t1 = add_months(s.t0, 1)
    assert c.access_schedule is not None
    # The threshold commit pays the current period's usage: access is the period [T0, T1).
    assert [(i.amount, i.starting_at, i.ending_before) for i in c.access_schedule.schedule_items] == [
        (10230, s.t0, t1)
    ]
    assert (c.name, c.priority, c.cost_basis) == ("Spend threshold", 100, 1)
    invoices = _purchase_invoices(a, s)
    assert [(i.status, i.total, i.issued_at) for i in invoices] == [("FINALIZED", 10230, at)]
    # 4,000 more: uncovered 4,000 < 10,000 -> no new commit.
    _use(a, s, "u2", s.t0 + timedelta(hours=2), 4000)
    _tick(h)
    assert len(_threshold_commits(a, s, contract)) == 1
    draft = [i for i in a.v1.customers.invoices.list(customer_id=s.customer) if i.type == "USAGE"]
    assert len(draft) == 1
    lines = {li.type: li for li in draft[0].line_items}
    assert lines["usage"].total == 14230  # 10,230 + 4,000
    assert lines["applied_commit_or_credit"].total == -10230
    assert lines["applied_commit_or_credit"].commit_id == c.id
    assert draft[0].total == 4000  # 14,230 - 10,230
    # Period end + 24 h grace: the usage invoice is final at 4,000 and the commit's ledger is spent.
    set_clock(h, t1 + timedelta(hours=24, minutes=1))
    final = [
        i
        for i in a.v1.customers.invoices.list(customer_id=s.customer)
        if i.type == "USAGE" and i.start_timestamp == s.t0
    ]
    assert [(i.status, i.total) for i in final] == [("FINALIZED", 4000)]
    bal = a.v1.contracts.list_balances(
        customer_id=s.customer, include_balance=True, include_ledgers=True, include_contract_balances=True
    )
    got = next(b for b in bal if b.id == c.id)
    assert got.balance == 0
    assert [(e.type, e.amount) for e in got.ledger or []] == [
        ("PREPAID_COMMIT_SEGMENT_START", 10230),
        ("PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", -10230),
    ]


def test_spend_threshold_evaluates_at_once_on_create(a: Metronome, h: httpx.Client) -> None:
    s = _setup(a, h, "sc")
    # Usage before the contract exists, inside its first period: 12,000 >= 10,000.
    _use(a, s, "u1", s.t0 + timedelta(hours=1), 12000)
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        spend_threshold_configuration=_spend_cfg(s, 10000, discount_configuration={"payment_fraction": 0.5}),
    ).data.id
    # No clock move: the create itself evaluated. Commit 12,000, invoiced 0.5 x 12,000 = 6,000.
    commits = _threshold_commits(a, s, contract)
    assert [c.access_schedule.schedule_items[0].amount for c in commits if c.access_schedule] == [12000]
    assert [(i.status, i.total) for i in _purchase_invoices(a, s)] == [("FINALIZED", 6000)]
    assert commits[0].spend_tracker_attributes is not None
    assert commits[0].spend_tracker_attributes.counts_as_discounted is True


def test_concurrent_passes_grant_once(a: Metronome, h: httpx.Client, clock_server: Running) -> None:  # noqa: F811
    s = _setup(a, h, "cc")
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        credits=[_credit(s, 5000)],
        prepaid_balance_threshold_configuration=_recharge_cfg(s, 1000, 6000),
    ).data.id
    _use(a, s, "u1", s.t0 + timedelta(hours=1), 4500)  # balance 5,000 - 4,500 = 500 <= 1,000
    target = clock_now(h).replace(microsecond=0) + timedelta(minutes=1)
    errors: list[str] = []

    def move() -> None:
        with clock_server.http() as c:
            r = c.post("/tally/v1/test-clock", json={"now": iso(target)})
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=move) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    set_clock(h, target)  # and once more, at the same frozen time
    commits = _threshold_commits(a, s, contract)
    # One grant: 6,000 - 500 = 5,500.
    assert [c.access_schedule.schedule_items[0].amount for c in commits if c.access_schedule] == [5500]
    assert [i.total for i in _purchase_invoices(a, s)] == [5500]


def test_disabled_configuration_does_nothing_until_enabled(a: Metronome, h: httpx.Client) -> None:
    s = _setup(a, h, "ds")
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        prepaid_balance_threshold_configuration={**_recharge_cfg(s, 500, 1500), "is_enabled": False},
        spend_threshold_configuration={**_spend_cfg(s, 1000), "is_enabled": False},
    ).data.id
    _use(a, s, "u1", s.t0 + timedelta(hours=1), 3000)  # spend 3,000 >= 1,000 and balance 0 <= 500
    _tick(h)
    _tick(h)
    assert _threshold_commits(a, s, contract) == []
    assert _purchase_invoices(a, s) == []
    # Enabling the recharge evaluates at once (no clock move): balance 0 -> recharge 1,500 - 0 = 1,500.
    # The 3,000 of usage is older than the recharge's access (it starts this hour), so it stays uncovered.
    a.v2.contracts.edit(
        customer_id=s.customer,
        contract_id=contract,
        update_prepaid_balance_threshold_configuration={"is_enabled": True},
    )
    commits = _threshold_commits(a, s, contract)
    assert [c.access_schedule.schedule_items[0].amount for c in commits if c.access_schedule] == [1500]
    assert [i.total for i in _purchase_invoices(a, s)] == [1500]


def test_minimums_are_enforced_and_nothing_is_written(a: Metronome, h: httpx.Client) -> None:
    s = _setup(a, h, "mn")
    base: Any = {"customer_id": s.customer, "starting_at": iso(s.t0), "rate_card_id": s.card}
    for cfg, field in (
        (_recharge_cfg(s, 499, 5000), "threshold_amount"),  # threshold below 500
        (_recharge_cfg(s, 2000, 2999), "recharge_to_amount"),  # recharge_to below 2,000 + 1,000
        ({**_recharge_cfg(s, 2000, 3000), "commit": {"product_id": s.spend}}, "product_id"),  # not FIXED
    ):
        r = h.post("/v1/contracts/create", json={**base, "prepaid_balance_threshold_configuration": cfg})
        assert r.status_code == 400, r.text
        assert field in r.json()["message"]
    r = h.post("/v1/contracts/create", json={**base, "spend_threshold_configuration": _spend_cfg(s, 0)})
    assert r.status_code == 400, r.text
    assert a.v1.contracts.list(customer_id=s.customer).data == []
    # The exact minimums are accepted: threshold 500, recharge_to 500 + 1,000 = 1,500 (disabled here).
    contract = a.v1.contracts.create(
        customer_id=s.customer,
        starting_at=s.t0,
        rate_card_id=s.card,
        prepaid_balance_threshold_configuration={**_recharge_cfg(s, 500, 1500), "is_enabled": False},
    ).data.id
    edits_before = len(a.v2.contracts.get_edit_history(customer_id=s.customer, contract_id=contract).data)
    edit: Any = {"customer_id": s.customer, "contract_id": contract}
    for body in (
        {"update_prepaid_balance_threshold_configuration": {"threshold_amount": 499}},
        {"update_prepaid_balance_threshold_configuration": {"recharge_to_amount": 1499}},
        {"update_prepaid_balance_threshold_configuration": {"is_enabled": True, "threshold_amount": 600}},
    ):
        r = h.post("/v2/contracts/edit", json={**edit, **body})
        assert r.status_code == 400, r.text  # 600 needs recharge_to >= 1,600, it is 1,500
    r = h.post(
        "/v2/contracts/edit",
        json={
            **edit,
            "add_spend_threshold_configuration": _spend_cfg(s, 1000, commit={"product_id": s.spend}),
        },
    )
    assert r.status_code == 400, r.text
    got = a.v2.contracts.retrieve(customer_id=s.customer, contract_id=contract).data
    cfg = got.prepaid_balance_threshold_configuration
    assert cfg is not None
    assert (cfg.is_enabled, cfg.threshold_amount, cfg.recharge_to_amount) == (False, 500, 1500)
    assert got.spend_threshold_configuration is None
    assert (
        len(a.v2.contracts.get_edit_history(customer_id=s.customer, contract_id=contract).data)
        == edits_before
    )
    assert _threshold_commits(a, s, contract) == []
