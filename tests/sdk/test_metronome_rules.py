"""Issue 12: four billing rules held to Metronome's documentation, one golden scenario each, through the
official SDK (strict response validation) and the test clock, on SQLite and PostgreSQL. Every figure is
computed by hand in the comment above its assertion (USD cents).

Dates are relative to the shared test clock (it never moves backwards). Month lengths are pinned by
choosing a 30-day month M (April, June, September or November): the month before M and the month after
M then both have 31 days.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.sdk.invoice_support import clock_now, iso, set_clock
from tests.sdk.invoice_support import clock_server as clock_server
from tests.support.lines import applied_line, assert_sdk_lines, subscription_line, usage_line

DAY = timedelta(days=1)
AFTER_GRACE = timedelta(hours=24, minutes=1)  # a usage invoice is finalized 24 h after its period ends


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:
    return clock_server.sdk()


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:
    with clock_server.http() as c:
        yield c


def thirty_day_month(h: httpx.Client) -> datetime:
    """The start of the first 30-day month that begins after the clock (so nothing of it is billed yet)."""
    now = clock_now(h)
    m = add_months(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), 1)
    while calendar.monthrange(m.year, m.month)[1] != 30:
        m = add_months(m, 1)
    return m


def invoices(a: Metronome, customer: str, kind: str, contract: str | None = None) -> list[Any]:
    found = [
        i
        for i in a.v1.customers.invoices.list(
            customer_id=customer, **({"contract_id": contract} if contract else {})
        )
        if i.type == kind
    ]
    return sorted(found, key=lambda i: i.start_timestamp)


def sub_lines(inv: Any) -> list[tuple[float, float, datetime | None, datetime | None]]:
    return [
        (float(li.quantity or 0), float(li.total), li.starting_at, li.ending_before)
        for li in inv.line_items
        if li.type == "subscription"
    ]


def catalog(a: Metronome, uid: str, start: datetime, price: int) -> tuple[str, str]:
    sub = a.v1.contracts.products.create(name=f"plan {uid}", type="SUBSCRIPTION").data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=sub,
        starting_at=start,
        entitled=True,
        rate_type="FLAT",
        price=price,
        billing_frequency="MONTHLY",
    )
    return sub, card


# ------------------------------------------------------------------------------------ rule 1


def test_rule1_advance_charged_at_period_start_off_grid_anchor_and_end(
    a: Metronome, h: httpx.Client, uid: str
) -> None:
    """Metronome, "Set up seat-based billing" (docs.metronome.com/invoicing/how-billing-works/
    set-up-seat-based-billing): seat-based billing is charged at the beginning of the billing period.

    Contract [M, N+20d) with monthly usage statements on the 1st; an ADVANCE subscription, 2 x 3,000/month,
    billing cycle anchored on the 15th (anchor_date M+14d, off the usage grid), prorated,
    BILL_ON_NEXT_COLLECTION_DATE, +1 on M+24d. Every cycle start is off the usage grid, so each charge is on a
    SCHEDULED invoice issued at the cycle start:
      M       [M, M+14d) of the 31-day cycle [M-31d... M+14d): 2 x 3000 x 14/31 = 2709.68 -> 2,710
      M+14d   [M+14d, N+14d), a full 30-day cycle: 2 x 3000 = 6,000
      N+14d   the increase at the next collection date, 1 x 3000 x 20/30 (M+24d..N+14d) = 2,000
              + [N+14d, N+20d) of the 31-day cycle, clipped by the contract end: 3 x 3000 x 6/31
              = 1741.94 -> 1,742; total 3,742
    The usage invoices [M, N) and [N, N+20d) carry no subscription line."""
    m = thirty_day_month(h)
    n = add_months(m, 1)
    end = n + 20 * DAY
    sub, card = catalog(a, uid, m, 3000)
    customer = a.v1.customers.create(name=f"r1 {uid}").data.id
    contract = a.v1.contracts.create(
        customer_id=customer,
        starting_at=m,
        ending_before=end,
        rate_card_id=card,
        subscriptions=[
            {
                "subscription_rate": {"product_id": sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "initial_quantity": 2,
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_ON_NEXT_COLLECTION_DATE"},
                "billing_cycle_config": {"anchor_date": iso(m + 14 * DAY)},
            }
        ],
    ).data.id
    sid = (a.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data.subscriptions or [])[0].id
    a.v2.contracts.edit(
        customer_id=customer,
        contract_id=contract,
        update_subscriptions=[
            {"subscription_id": sid, "quantity_updates": [{"starting_at": m + 24 * DAY, "quantity_delta": 1}]}
        ],
    )
    set_clock(h, end + AFTER_GRACE)
    scheduled = invoices(a, customer, "SCHEDULED")
    assert [(i.start_timestamp, i.status, i.total) for i in scheduled] == [
        (m, "FINALIZED", 2710),
        (m + 14 * DAY, "FINALIZED", 6000),
        (n + 14 * DAY, "FINALIZED", 3742),
    ]
    assert sub_lines(scheduled[0]) == [(2, 2710, m, m + 14 * DAY)]
    assert sub_lines(scheduled[1]) == [(2, 6000, m + 14 * DAY, n + 14 * DAY)]
    assert sorted(sub_lines(scheduled[2]), key=lambda x: x[2] or m) == [
        (1, 2000, m + 24 * DAY, n + 14 * DAY),
        (3, 1742, n + 14 * DAY, end),
    ]
    assert sid is not None
    seat = (sid, sub, f"plan {uid}")
    # 2 x 3000 x 14/31 = 2709.68 -> 2,710, prorated
    assert_sdk_lines(
        scheduled[0],
        [subscription_line(*seat, "2", "3000", "2710", True, starting_at=m, ending_before=m + 14 * DAY)],
    )
    # a full 30-day cycle: 2 x 3000 = 6,000
    assert_sdk_lines(
        scheduled[1],
        [
            subscription_line(
                *seat, "2", "3000", "6000", False, starting_at=m + 14 * DAY, ending_before=n + 14 * DAY
            )
        ],
    )
    assert_sdk_lines(
        scheduled[2],
        [
            # the increase: 1 x 3000 x 20/30 = 2,000
            subscription_line(
                *seat, "1", "3000", "2000", True, starting_at=m + 24 * DAY, ending_before=n + 14 * DAY
            ),
            # 3 x 3000 x 6/31 = 1741.94 -> 1,742
            subscription_line(*seat, "3", "3000", "1742", True, starting_at=n + 14 * DAY, ending_before=end),
        ],
        by_start=True,
    )
    usage = invoices(a, customer, "USAGE")
    assert [(i.start_timestamp, i.end_timestamp, i.status, i.total) for i in usage] == [
        (m, n, "FINALIZED", 0),
        (n, end, "FINALIZED", 0),
    ]
    for inv in usage:
        assert_sdk_lines(inv, [])  # no usage products, subscription charged on SCHEDULED invoices


# ------------------------------------------------------------------------------------ rule 2


def test_rule2_invoice_placement_on_scheduled_invoice(a: Metronome, h: httpx.Client, uid: str) -> None:
    """Metronome's subscription `billing_cycle_config.invoice_placement: ON_SCHEDULED_INVOICE` puts the
    subscription's charges on SCHEDULED invoices at the billing-cycle dates instead of the usage invoice.

    Contract from M (30 days), monthly statements on the 1st. An ARREARS subscription, 1 x 5,000/month, and
    an ADVANCE one, 1 x 1,000/month, both ON_SCHEDULED_INVOICE:
      SCHEDULED at M: ADVANCE [M, N) 1,000
      SCHEDULED at N: ARREARS [M, N) 5,000 + ADVANCE [N, N2) 1,000 = 6,000
    The usage invoice [M, N), issued at N, has no subscription line: total 0."""
    m = thirty_day_month(h)
    n, n2 = add_months(m, 1), add_months(m, 2)
    sub, card = catalog(a, uid, m, 5000)
    small = a.v1.contracts.products.create(name=f"addon {uid}", type="SUBSCRIPTION").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=small,
        starting_at=m,
        entitled=True,
        rate_type="FLAT",
        price=1000,
        billing_frequency="MONTHLY",
    )
    customer = a.v1.customers.create(name=f"r2 {uid}").data.id
    placement = {
        "billing_cycle_config": {"invoice_placement": "ON_SCHEDULED_INVOICE"},
        "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
    }
    contract = a.v1.contracts.create(
        customer_id=customer,
        starting_at=m,
        rate_card_id=card,
        subscriptions=[
            {
                "subscription_rate": {"product_id": sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ARREARS",
                "initial_quantity": 1,
                **placement,
            },
            {
                "subscription_rate": {"product_id": small, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "initial_quantity": 1,
                **placement,
            },
        ],
    ).data.id
    got = a.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data.subscriptions or []
    assert {s.billing_cycle_config.invoice_placement for s in got if s.billing_cycle_config} == {
        "ON_SCHEDULED_INVOICE"
    }
    set_clock(h, n + AFTER_GRACE)
    scheduled = invoices(a, customer, "SCHEDULED")
    assert [(i.start_timestamp, i.status, i.total) for i in scheduled] == [
        (m, "FINALIZED", 1000),
        (n, "FINALIZED", 6000),
    ]
    assert sorted(sub_lines(scheduled[1])) == [(1, 1000, n, n2), (1, 5000, m, n)]
    (first,) = [i for i in invoices(a, customer, "USAGE") if i.start_timestamp == m]
    assert (first.status, first.total, sub_lines(first)) == ("FINALIZED", 0, [])
    ids = {s.subscription_rate.product.id: s.id for s in got if s.id}
    plan, addon = (ids[sub], sub, f"plan {uid}"), (ids[small], small, f"addon {uid}")
    # ADVANCE [M, N): 1 x 1000
    assert_sdk_lines(
        scheduled[0], [subscription_line(*addon, "1", "1000", "1000", False, starting_at=m, ending_before=n)]
    )
    assert_sdk_lines(
        scheduled[1],
        [
            subscription_line(
                *plan, "1", "5000", "5000", False, starting_at=m, ending_before=n
            ),  # ARREARS [M, N)
            subscription_line(
                *addon, "1", "1000", "1000", False, starting_at=n, ending_before=n2
            ),  # ADVANCE [N, N2)
        ],
        by_start=True,
    )
    assert_sdk_lines(first, [])


# ------------------------------------------------------------------------------------ rule 3


def _usage_catalog(a: Metronome, uid: str, start: datetime, aggregation: str) -> tuple[str, str, str, str]:
    event = f"ev-{uid}"
    metric_args: dict[str, Any] = {
        "name": f"m-{uid}",
        "aggregation_type": aggregation,
        "event_type_filter": {"in_values": [event]},
    }
    if aggregation != "COUNT":
        metric_args |= {"aggregation_key": "value", "property_filters": [{"name": "value", "exists": True}]}
    metric = a.v1.billable_metrics.create(**metric_args).data.id
    product = a.v1.contracts.products.create(
        name=f"use {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    return event, product, card, metric


def _ingest(a: Metronome, alias: str, uid: str, event: str, *points: tuple[datetime, dict[str, Any]]) -> None:
    a.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{uid}-{i}",
                "customer_id": alias,
                "event_type": event,
                "timestamp": iso(t),
                "properties": props,
            }
            for i, (t, props) in enumerate(points)
        ]
    )


def test_rule3_rollover_after_the_final_invoice(a: Metronome, h: httpx.Client, uid: str) -> None:
    """Metronome, "Rollover" of commits/credits on renewal: usage inside a segment's dates draws on that
    segment; the renewal receives rollover_fraction x what is left after the old contract's final invoice.

    Old contract [M, N): PREPAID commit 10,000 on [M, N), rollover_fraction 0.5; usage 30 calls x 100 =
    3,000 during M. The renewal from N is created during M, before the old final invoice exists as final.
      pending: listBalances shows the old commit at 10,000 (nothing rolled), the renewal has no commit,
               the old draft [M, N) shows 3,000 usage - 3,000 applied = 0
      after N + grace: old invoice FINALIZED, total 0, deduction -3,000 at N;
               rollover 0.5 x (10,000 - 3,000) = 3,500 at N, expiration 3,500 at N;
               the renewal's commit: 3,500 on [N, N2).
    (Rolling at creation would have moved 0.5 x 10,000 = 5,000 and billed the 3,000 of usage.)"""
    m = thirty_day_month(h)
    n, n2 = add_months(m, 1), add_months(m, 2)
    event, product, card, _ = _usage_catalog(a, uid, m, "COUNT")
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=product, starting_at=m, entitled=True, rate_type="FLAT", price=100
    )
    fixed = a.v1.contracts.products.create(name=f"commit {uid}", type="FIXED").data.id
    alias = f"r3-{uid}"
    customer = a.v1.customers.create(name=f"r3 {uid}", ingest_aliases=[alias]).data.id
    old = a.v1.contracts.create(
        customer_id=customer,
        starting_at=m,
        ending_before=n,
        rate_card_id=card,
        commits=[
            {
                "type": "PREPAID",
                "product_id": fixed,
                "name": "rolls",
                "rollover_fraction": 0.5,
                "access_schedule": {
                    "schedule_items": [{"amount": 10000, "starting_at": iso(m), "ending_before": iso(n)}]
                },
            }
        ],
    ).data.id
    (commit,) = [c.id for c in a.v2.contracts.retrieve(customer_id=customer, contract_id=old).data.commits]
    set_clock(h, m + 10 * DAY)
    _ingest(a, alias, uid, event, *[(m + 2 * DAY + timedelta(minutes=i), {}) for i in range(30)])
    new = a.v1.contracts.create(
        customer_id=customer,
        starting_at=n,
        ending_before=n2,
        rate_card_id=card,
        transition={"from_contract_id": old, "type": "RENEWAL"},
    ).data.id
    # Pending: nothing rolled yet, the same in getContract, listBalances and the draft.
    assert a.v2.contracts.retrieve(customer_id=customer, contract_id=new).data.commits == []
    (bal,) = a.v1.contracts.list_balances(
        customer_id=customer, include_balance=True, covering_date=m + 10 * DAY
    )
    assert bal.balance == 10000
    (draft,) = [i for i in invoices(a, customer, "USAGE", old) if i.start_timestamp == m]
    assert (draft.status, draft.subtotal, draft.total) == ("DRAFT", 3000, 0)
    # 30 calls x 100 = 3,000, all paid by the commit (10,000 available)
    drawn = [
        usage_line(product, f"use {uid}", "30", "100", "3000"),
        applied_line(commit, "PREPAID", "-3000", "rolls", product_id=fixed),
    ]
    assert_sdk_lines(draft, drawn)

    set_clock(h, n + AFTER_GRACE)
    final = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert (final.status, final.total) == ("FINALIZED", 0)
    assert_sdk_lines(final, drawn)
    balances = {
        b.id: b
        for b in a.v1.contracts.list_balances(
            customer_id=customer, include_balance=True, include_ledgers=True, include_contract_balances=True
        )
    }
    (rolled,) = a.v2.contracts.retrieve(customer_id=customer, contract_id=new).data.commits
    assert [(s.amount, s.starting_at, s.ending_before) for s in rolled.access_schedule.schedule_items] == [
        (3500, n, n2)
    ]
    assert rolled.rolled_over_from is not None
    assert rolled.rolled_over_from.contract_id == old
    (old_commit,) = [b for b in balances.values() if b.id != rolled.id]
    assert [(e.type, e.amount, e.timestamp) for e in old_commit.ledger or []] == [
        ("PREPAID_COMMIT_SEGMENT_START", 10000, m),
        ("PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", -3000, n),
        ("PREPAID_COMMIT_ROLLOVER", -3500, n),
        ("PREPAID_COMMIT_EXPIRATION", -3500, n),
    ]
    assert balances[rolled.id].balance == 3500


# ------------------------------------------------------------------------------------ rule 4


def test_rule4_latest_increments_at_the_rate_in_force(a: Metronome, h: httpx.Client, uid: str) -> None:
    """Metronome bills a non-monotonic (LATEST) metric as the increments over the period; a rate change
    applies to the increments after it.

    Rate 100 on [M, M+10d), 200 from M+10d. LATEST values: 5 at M+2d, 8 at M+5d, 6 at M+12d, 10 at M+15d.
      increments: +5 x 100 = 500, +3 x 100 = 300, -2 x 200 = -400, +4 x 200 = 800
      line @M: quantity 8, 800; line @M+10d: quantity 2, 400; total 1,200
    (Stamping the whole change, 10, at the period start would have billed 10 x 100 = 1,000.)"""
    m = thirty_day_month(h)
    n = add_months(m, 1)
    event, product, card, _ = _usage_catalog(a, uid, m, "LATEST")
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=product,
        starting_at=m,
        ending_before=m + 10 * DAY,
        entitled=True,
        rate_type="FLAT",
        price=100,
    )
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=product,
        starting_at=m + 10 * DAY,
        entitled=True,
        rate_type="FLAT",
        price=200,
    )
    alias = f"r4-{uid}"
    customer = a.v1.customers.create(name=f"r4 {uid}", ingest_aliases=[alias]).data.id
    a.v1.contracts.create(customer_id=customer, starting_at=m, rate_card_id=card)
    set_clock(h, m + 20 * DAY)
    _ingest(
        a,
        alias,
        uid,
        event,
        (m + 2 * DAY, {"value": "5"}),
        (m + 5 * DAY, {"value": "8"}),
        (m + 12 * DAY, {"value": "6"}),
        (m + 15 * DAY, {"value": "10"}),
    )
    set_clock(h, n + AFTER_GRACE)
    (inv,) = [i for i in invoices(a, customer, "USAGE") if i.start_timestamp == m]
    assert (inv.status, inv.total) == ("FINALIZED", 1200)
    lines = sorted(
        (li.starting_at, float(li.quantity or 0), float(li.total))
        for li in inv.line_items
        if li.product_id == product
    )
    assert lines == [(m, 8, 800), (m + 10 * DAY, 2, 400)]
    name = f"use {uid}"
    assert_sdk_lines(
        inv,
        [
            # increments +5 +3 at 100: 8 x 100 = 800 for [M, M+10d)
            usage_line(product, name, "8", "100", "800", starting_at=m, ending_before=m + 10 * DAY),
            # increments -2 +4 at 200: 2 x 200 = 400 for [M+10d, N)
            usage_line(product, name, "2", "200", "400", starting_at=m + 10 * DAY, ending_before=n),
        ],
        by_start=True,
    )
