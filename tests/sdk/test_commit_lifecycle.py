"""The commits/credits lifecycle through the official SDK in strict mode, on every backend (SPEC §5.7,
§5.13, §6.6, §7; issue 5): recurring commits and credits materialize children, a RENEWAL transition rolls
balances over, and finalizing the invoice that carries a postpaid true-up writes its ledger entry.
Figures are hand-computed next to each test (USD cents)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import metronome
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.sdk.invoice_support import clock_now, clock_server, fresh_month, set_clock  # noqa: F401
from tests.sdk.test_contracts import JAN, USD, iso, make_catalog


@pytest.fixture(scope="module")
def ca(clock_server: Running) -> Metronome:  # noqa: F811
    return clock_server.sdk()


@pytest.fixture(scope="module")
def ch(clock_server: Running) -> Iterator[httpx.Client]:  # noqa: F811
    with clock_server.http() as c:
        yield c


# ------------------------------------------------------------------------------ postpaid true-up


def test_postpaid_trueup_entry_is_written_at_finalization(ca: Metronome, ch: httpx.Client, uid: str) -> None:
    """POSTPAID 10,000 for [T0, T1), true-up at T1. Usage 30 calls x 100 = 3,000 absorbed (shown, not
    subtracted); the invoice for [T0, T1) bills 3,000 + true-up 7,000 = 10,000. After finalization the
    ledger reads +10,000 initial, -3,000 deduction, -7,000 true-up, and the balance is 0 (no expiration)."""
    t0 = fresh_month(ch)
    t1 = add_months(t0, 1)
    event = f"pp_{uid}"
    metric = ca.v1.billable_metrics.create(
        name=f"pp {uid}", aggregation_type="COUNT", event_type_filter={"in_values": [event]}
    ).data.id
    usage = ca.v1.contracts.products.create(name=f"pp-use {uid}", type="USAGE", billable_metric_id=metric)
    fixed = ca.v1.contracts.products.create(name=f"pp-fixed {uid}", type="FIXED").data.id
    card = ca.v1.contracts.rate_cards.create(name=f"pp card {uid}").data.id
    ca.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=usage.data.id,
        entitled=True,
        rate_type="FLAT",
        price=100,
        starting_at=t0,
    )
    alias = f"pp-{uid}"
    customer = ca.v1.customers.create(name=f"pp {uid}", ingest_aliases=[alias]).data.id
    contract = ca.v1.contracts.create(
        customer_id=customer,
        starting_at=t0,
        rate_card_id=card,
        commits=[
            {
                "type": "POSTPAID",
                "product_id": fixed,
                "name": "Postpaid",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [{"amount": 10000, "starting_at": t0, "ending_before": t1}]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": t1, "amount": 10000}]},
            }
        ],
    ).data.id
    commit = ca.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data.commits[0].id
    ca.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"pp-{uid}-{i}",
                "customer_id": alias,
                "event_type": event,
                "timestamp": iso(t0 + timedelta(hours=2, minutes=i)),
                "properties": {},
            }
            for i in range(30)
        ]
    )
    set_clock(ch, t1 + timedelta(hours=24, minutes=1))
    inv = next(
        i
        for i in ca.v1.customers.invoices.list(customer_id=customer, type="USAGE")
        if i.start_timestamp == t0
    )
    assert inv.status == "FINALIZED"
    assert inv.total == 10000
    assert sorted((li.type, li.total) for li in inv.line_items) == [
        ("applied_commit_or_credit", -3000),
        ("postpaid_trueup", 7000),
        ("usage", 3000),
    ]
    (bal,) = ca.v1.contracts.list_balances(
        customer_id=customer, id=commit, include_balance=True, include_ledgers=True
    )
    assert [(e.type, e.amount, e.timestamp) for e in bal.ledger or []] == [
        ("POSTPAID_COMMIT_INITIAL_BALANCE", 10000, t0),
        ("POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", -3000, t1),
        ("POSTPAID_COMMIT_TRUEUP", -7000, t1),
    ]
    trueup = (bal.ledger or [])[-1]
    assert (trueup.invoice_id, trueup.contract_id) == (inv.id, contract)  # type: ignore[union-attr]
    assert bal.balance == 0


# ------------------------------------------------------------------------------ renewal rollover


def test_renewal_rolls_over_the_remaining_balance(
    ca: Metronome,
    ch: httpx.Client,
    clock_server: Running,  # noqa: F811
    uid: str,
) -> None:
    """Old contract 2025: commit 300,000 with 100,000 drawn (manual entry) -> remaining 200,000, f = 0.5
    -> new commit 100,000; old ledger -100,000 rollover and -100,000 expiration at the renewal start
    (SPEC §5.13 example). A credit of 1,000 with f = 0.25 -> 250 (750 expires). A commit without
    rollover_fraction stays put and expires on its own. The rollover happens once the old contract's final
    usage invoice is finalized (issue 12): the test clock's worker pass finalizes the past year's invoices."""
    cat = make_catalog(ca, uid)
    y25, y26, y27 = JAN, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    seg = {"starting_at": iso(y25), "ending_before": iso(y26)}
    old = ca.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=y25,
        ending_before=y26,
        commits=[
            {
                "type": "PREPAID",
                "product_id": cat.fixed,
                "name": "rolls",
                "priority": 3,
                "applicable_product_tags": ["api"],
                "rollover_fraction": 0.5,
                "access_schedule": {"schedule_items": [{"amount": 300000, **seg}]},
                "invoice_schedule": {"schedule_items": [{"timestamp": iso(y25), "amount": 150000}]},
            },
            {
                "type": "PREPAID",
                "product_id": cat.fixed,
                "name": "stays",
                "access_schedule": {"schedule_items": [{"amount": 500, **seg}]},
            },
        ],
        credits=[
            {
                "product_id": cat.fixed,
                "name": "promo",
                "rollover_fraction": 0.25,
                "access_schedule": {"schedule_items": [{"amount": 1000, **seg}]},
            }
        ],
    ).data.id
    got = ca.v2.contracts.retrieve(customer_id=cat.customer, contract_id=old).data
    commits = {c.name: c for c in got.commits}
    rolls, stays, promo = commits["rolls"], commits["stays"], (got.credits or [])[0]
    ca.v1.contracts.add_manual_balance_entry(
        id=rolls.id,
        segment_id=rolls.access_schedule.schedule_items[0].id,
        customer_id=cat.customer,
        contract_id=old,
        amount=-100000,
        reason="used",
    )
    with pytest.raises(metronome.NotFoundError):  # another tenant cannot renew (nor roll) it
        clock_server.sdk(clock_server.token_b).v1.contracts.create(
            customer_id=cat.customer, starting_at=y26, transition={"from_contract_id": old, "type": "RENEWAL"}
        )
    new = ca.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=y26,
        ending_before=y27,
        transition={"from_contract_id": old, "type": "RENEWAL"},
    ).data.id
    set_clock(ch, clock_now(ch) + timedelta(seconds=1))  # a worker pass
    renewed = ca.v2.contracts.retrieve(customer_id=cat.customer, contract_id=new).data
    (rc,) = renewed.commits
    assert rc.rolled_over_from is not None
    assert (rc.rolled_over_from.commit_id, rc.rolled_over_from.contract_id) == (rolls.id, old)
    assert (rc.type, rc.name, rc.priority, rc.applicable_product_tags) == ("PREPAID", "rolls", 3, ["api"])
    assert rc.invoice_schedule is None
    assert [(s.amount, s.starting_at, s.ending_before) for s in rc.access_schedule.schedule_items] == [
        (100000, y26, y27)
    ]
    (rcr,) = renewed.credits or []
    assert rcr.rolled_over_from is not None
    assert (rcr.rolled_over_from.credit_id, rcr.rolled_over_from.contract_id) == (promo.id, old)
    assert [s.amount for s in rcr.access_schedule.schedule_items] == [250]

    bal = {
        b.id: b
        for b in ca.v1.contracts.list_balances(
            customer_id=cat.customer,
            include_balance=True,
            include_ledgers=True,
            include_contract_balances=True,
        )
    }
    assert [(e.type, e.amount, e.timestamp) for e in bal[rolls.id].ledger or []] == [
        ("PREPAID_COMMIT_SEGMENT_START", 300000, y25),
        ("PREPAID_COMMIT_MANUAL", -100000, y25),
        ("PREPAID_COMMIT_ROLLOVER", -100000, y26),
        ("PREPAID_COMMIT_EXPIRATION", -100000, y26),
    ]
    rollover = (bal[rolls.id].ledger or [])[2]
    assert rollover.new_contract_id == new  # type: ignore[union-attr]
    assert [(e.type, e.amount) for e in bal[promo.id].ledger or []] == [
        ("CREDIT_SEGMENT_START", 1000),
        ("CREDIT_ROLLOVER", -250),
        ("CREDIT_EXPIRATION", -750),
    ]
    assert [(e.type, e.amount) for e in bal[stays.id].ledger or []] == [
        ("PREPAID_COMMIT_SEGMENT_START", 500),
        ("PREPAID_COMMIT_EXPIRATION", -500),
    ]
    # Balances are read at the clock's now: the shared test clock may already be past the renewal's end.
    if clock_now(ch) < y27:
        assert (bal[rc.id].balance, bal[rcr.id].balance) == (100000, 250)
    assert [(e.type, e.amount) for e in bal[rc.id].ledger or []][:1] == [
        ("PREPAID_COMMIT_SEGMENT_START", 100000)
    ]


# ------------------------------------------------------------------------------ recurring commits/credits


def test_recurring_credit_and_commit_spawn_children(client: Metronome, uid: str) -> None:
    """Contract from 2024-01-15 to 2024-06-01, monthly statements on the 1st.
    Recurring credit 1,000/month from 2024-01-15 to 2024-04-01, FIRST_AND_LAST proration (default):
      [01-15, 02-01) 1000 x 17/31 = 548.387 -> 548; [02-01, 03-01) 1000; [03-01, 04-01) 1000.
    Recurring commit (own MONTHLY frequency, anchored on 01-15) access 2 x 2,500 = 5,000, invoiced
    4,000, for 2 periods each, until 03-15: [01-15, 03-15) 5,000 and [02-15, 03-15) 5,000, invoices of
    4,000 at 01-15 and 02-15, cost basis 0.8."""
    cat = make_catalog(client, uid)
    d = lambda m, day: datetime(2024, m, day, tzinfo=UTC)  # noqa: E731
    contract = client.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=d(1, 15),
        ending_before=d(6, 1),
        recurring_credits=[
            {
                "product_id": cat.fixed,
                "name": "monthly credit",
                "priority": 1,
                "starting_at": iso(d(1, 15)),
                "ending_before": iso(d(4, 1)),
                "access_amount": {"unit_price": 1000, "credit_type_id": USD},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "rollover_fraction": 0.5,
            }
        ],
        recurring_commits=[
            {
                "product_id": cat.fixed,
                "name": "monthly commit",
                "priority": 2,
                "starting_at": iso(d(1, 15)),
                "ending_before": iso(d(3, 15)),
                "recurrence_frequency": "MONTHLY",
                "access_amount": {"unit_price": 2500, "quantity": 2, "credit_type_id": USD},
                "invoice_amount": {"unit_price": 4000, "quantity": 1, "credit_type_id": USD},
                "commit_duration": {"value": 2, "unit": "PERIODS"},
            }
        ],
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=contract).data
    rc_id = (got.recurring_credits or [])[0].id
    rm_id = (got.recurring_commits or [])[0].id
    credits = sorted(got.credits or [], key=lambda c: c.access_schedule.schedule_items[0].starting_at)
    assert [c.recurring_credit_id for c in credits] == [rc_id] * 3
    assert [
        (s.amount, s.starting_at, s.ending_before) for c in credits for s in c.access_schedule.schedule_items
    ] == [(548, d(1, 15), d(2, 1)), (1000, d(2, 1), d(3, 1)), (1000, d(3, 1), d(4, 1))]
    assert {(c.name, c.priority, c.rollover_fraction, c.type) for c in credits} == {
        ("monthly credit", 1, 0.5, "CREDIT")
    }
    commits = sorted(got.commits, key=lambda c: c.access_schedule.schedule_items[0].starting_at)
    assert [c.recurring_commit_id for c in commits] == [rm_id] * 2
    assert [
        (s.amount, s.starting_at, s.ending_before) for c in commits for s in c.access_schedule.schedule_items
    ] == [(5000, d(1, 15), d(3, 15)), (5000, d(2, 15), d(3, 15))]
    assert [
        (i.amount, i.timestamp)
        for c in commits
        for i in (c.invoice_schedule.schedule_items if c.invoice_schedule else [])
    ] == [(4000, d(1, 15)), (4000, d(2, 15))]
    assert {(c.type, c.cost_basis) for c in commits} == {("PREPAID", 0.8)}

    # Children are ordinary balances: listed with ledgers; re-materializing (an edit) adds none twice.
    client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=contract,
        add_recurring_credits=[
            {
                "product_id": cat.fixed,
                "priority": 1,
                "starting_at": iso(d(5, 1)),
                "access_amount": {"unit_price": 300, "credit_type_id": USD},
                "commit_duration": {"value": 1},
                "proration": "NONE",
            }
        ],
    )
    listed = list(
        client.v1.contracts.list_balances(
            customer_id=cat.customer, include_contract_balances=True, include_ledgers=True
        )
    )
    assert len(listed) == 3 + 2 + 1  # no child twice
    assert {c.id for c in [*credits, *commits]} <= {b.id for b in listed}
    added = [b for b in listed if getattr(b, "recurring_credit_id", None) not in (None, rc_id)]
    assert [
        (s.amount, s.starting_at, s.ending_before) for b in added for s in b.access_schedule.schedule_items
    ] == [(300, d(5, 1), d(6, 1))]
    first = next(b for b in listed if b.id == credits[0].id)
    assert [(e.type, e.amount) for e in first.ledger or []] == [
        ("CREDIT_SEGMENT_START", 548),
        ("CREDIT_EXPIRATION", -548),
    ]


def test_proration_rounding_and_last_period(client: Metronome, uid: str) -> None:
    """Monthly credit 1,000 from 2024-01-15 to 2024-03-10 with FLOOR to whole dollars (-2 places) and
    LAST proration only: January is full (1,000, no first proration), February 1,000, March
    [03-01, 03-10) = 1000 x 9/31 = 290.3 -> FLOOR(-2) = 200."""
    cat = make_catalog(client, uid)
    d = lambda m, day: datetime(2024, m, day, tzinfo=UTC)  # noqa: E731
    contract = client.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=d(1, 15),
        recurring_credits=[
            {
                "product_id": cat.fixed,
                "priority": 1,
                "starting_at": iso(d(1, 15)),
                "ending_before": iso(d(3, 10)),
                "access_amount": {"unit_price": 1000, "credit_type_id": USD},
                "commit_duration": {"value": 1},
                "proration": "LAST",
                "proration_rounding": {"access": {"decimal_places": -2, "rounding_method": "FLOOR"}},
            }
        ],
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=contract).data
    amounts = sorted(
        (s.starting_at, s.amount) for c in got.credits or [] for s in c.access_schedule.schedule_items
    )
    assert amounts == [(d(1, 15), 1000), (d(2, 1), 1000), (d(3, 1), 200)]


def test_shortening_the_contract_trims_recurring_children(ca: Metronome, ch: httpx.Client, uid: str) -> None:
    """Open-ended contract from T0 (a month start) with a 1,000/month recurring credit: children are
    stored a year ahead. `updateEndDate` to T2 + 14 days keeps month 1 (started) and month 2 (1,000),
    prorates month 3 to 1000 x 14/days(month 3) rounded HALF_UP to whole cents (the default
    FIRST_AND_LAST proration), and removes every later child. A second shortening to a day after `now`
    cuts the started month-1 child's access at the new end but keeps its 1,000 (it may be invoiced)."""
    t0 = fresh_month(ch)
    t1, t2, t3 = add_months(t0, 1), add_months(t0, 2), add_months(t0, 3)
    cat = make_catalog(ca, uid)
    contract = ca.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=t0,
        recurring_credits=[
            {
                "product_id": cat.fixed,
                "priority": 1,
                "starting_at": iso(t0),
                "access_amount": {"unit_price": 1000, "credit_type_id": USD},
                "commit_duration": {"value": 1},
            }
        ],
    ).data.id

    def children() -> list[tuple[datetime, datetime, float]]:
        got = ca.v2.contracts.retrieve(customer_id=cat.customer, contract_id=contract).data
        items = [s for c in got.credits or [] for s in c.access_schedule.schedule_items]
        return sorted((s.starting_at, s.ending_before, s.amount) for s in items)

    assert len(children()) >= 12
    end = t2 + timedelta(days=14)
    ca.v1.contracts.update_end_date(customer_id=cat.customer, contract_id=contract, ending_before=end)
    days3 = (t3 - t2).days
    month3 = int(1000 * 14 // days3 + (1 if (1000 * 14 % days3) * 2 >= days3 else 0))
    assert children() == [(t0, t1, 1000), (t1, t2, 1000), (t2, end, month3)]

    now = datetime.fromisoformat(ch.post("/tally/v1/test-clock/get", json={}).json()["data"]["now"])
    cut = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    ca.v1.contracts.update_end_date(customer_id=cat.customer, contract_id=contract, ending_before=cut)
    assert children() == [(t0, cut, 1000)]
