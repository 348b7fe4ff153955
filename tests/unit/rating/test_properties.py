"""Hypothesis properties of issue 4: exact totals, tiers, balances, order independence, proration, periods."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tally.invoices.wire import rated_invoice_json
from tally.money import USD
from tally.rating import Period, billing_periods, rate_usage_invoice
from tally.rating.inputs import (
    AccessSegment,
    AnchorDay,
    Commit,
    CommitType,
    Contract,
    Frequency,
    Product,
    Rate,
    RateCard,
    RateType,
    Tier,
    UsageRecord,
    UsageStatementSchedule,
)
from tally.rating.prices.curve import charge, unit_price_at
from tally.rating.prices.subscription import prorate
from tally.rating.prices.tiered import tiered_price_curve
from tally.rating.results import LineType

FAST = settings(max_examples=60, deadline=None)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
MARCH = Period(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))

money = st.decimals(min_value=0, max_value=1000, places=3)
qty = st.decimals(min_value=0, max_value=10000, places=2)
tiers_st = st.lists(
    st.tuples(st.decimals(min_value=1, max_value=500, places=0), money), min_size=1, max_size=4
).map(lambda ts: (*tuple(Tier(price=p, size=s) for s, p in ts[:-1]), Tier(price=ts[-1][1])))


def _contract(tiers: tuple[Tier, ...], commits: tuple[Commit, ...] = ()) -> Contract:
    products = {
        "flat": Product("flat", "Flat"),
        "tiered": Product("tiered", "Tiered", pricing_group_key=("region",), presentation_group_key=("env",)),
    }
    rates = (
        Rate("flat", RateType.FLAT, T0, price=Decimal("1.37")),
        Rate("tiered", RateType.TIERED, T0, tiers=tiers),
    )
    return Contract("k", "c", T0, RateCard("rc", rates), products, commits=commits)


usage_st = st.lists(
    st.tuples(
        st.sampled_from(["flat", "tiered"]),
        st.integers(min_value=0, max_value=30 * 24 - 1),
        qty,
        st.sampled_from(["us", "eu"]),
        st.sampled_from(["prod", "dev"]),
    ),
    max_size=15,
)


def _records(raw: list[tuple[str, int, Decimal, str, str]]) -> list[UsageRecord]:
    return [
        UsageRecord(p, MARCH.starting_at + timedelta(hours=h), q, (("env", e), ("region", r)))
        for p, h, q, r, e in raw
    ]


# PB-1: lines sum to the totals exactly, and every amount is in whole minor units.
@FAST
@given(tiers=tiers_st, raw=usage_st, credit=st.decimals(min_value=0, max_value=50000, places=2))
def test_pb1_lines_sum_to_totals(
    tiers: tuple[Tier, ...], raw: list[tuple[str, int, Decimal, str, str]], credit: Decimal
) -> None:
    commits = (Commit("cr", CommitType.CREDIT, (AccessSegment("s", credit, T0, MARCH.ending_before),)),)
    inv = rate_usage_invoice(_contract(tiers, commits), _records(raw), MARCH)
    counted = [li for li in inv.line_items if not li.excluded_from_total]
    assert sum((li.total for li in counted), Decimal(0)) == inv.total
    charges = sum((li.total for li in counted if li.type is not LineType.APPLIED), Decimal(0))
    applied = sum((li.total for li in counted if li.type is LineType.APPLIED), Decimal(0))
    assert charges == inv.subtotal
    assert inv.subtotal + applied == inv.total
    assert inv.total >= 0
    for li in inv.line_items:
        assert li.total == li.total.quantize(Decimal(1))


# PB-3: graduated tiers are monotone, the marginal price is the tier holding the next unit, and a
# boundary unit belongs to the lower tier.
@settings(max_examples=150, deadline=None)
@given(tiers=tiers_st, q=st.integers(min_value=0, max_value=3000))
def test_pb3_tiers_monotone_and_exact(tiers: tuple[Tier, ...], q: int) -> None:
    curve = tiered_price_curve(tiers)
    here = charge(curve, Decimal(0), Decimal(q))
    nxt = charge(curve, Decimal(0), Decimal(q + 1))
    assert nxt >= here
    assert nxt - here == unit_price_at(curve, Decimal(q))
    # brute force: sum of each unit's tier price
    boundary = Decimal(0)
    for t in tiers[:-1]:
        assert t.size is not None
        boundary += t.size
        assert charge(curve, Decimal(0), boundary) - charge(curve, Decimal(0), boundary - 1) == t.price


# PB-4: balances never negative; granted - consumed - expired(0 here) = remaining, over several invoices.
@FAST
@given(
    amounts=st.lists(st.decimals(min_value=0, max_value=5000, places=2), min_size=1, max_size=3),
    months=st.lists(qty, min_size=1, max_size=4),
)
def test_pb4_balances_conserved(amounts: list[Decimal], months: list[Decimal]) -> None:
    consumed = [Decimal(0)] * len(amounts)
    for month, q in enumerate(months):
        start = datetime(2025, month + 1, 1, tzinfo=UTC)
        end = datetime(2025, month + 2, 1, tzinfo=UTC)
        commits = tuple(
            Commit(
                f"c{i}",
                CommitType.PREPAID,
                (AccessSegment(f"s{i}", a, T0, datetime(2026, 1, 1, tzinfo=UTC), consumed[i]),),
                priority=Decimal(i + 1),
            )
            for i, a in enumerate(amounts)
        )
        inv = rate_usage_invoice(
            _contract((Tier(Decimal(1)),), commits), [UsageRecord("flat", start, q)], Period(start, end)
        )
        for b in inv.balances:
            i = int(b.commit_id[1:])
            assert b.remaining >= 0
            assert b.granted - b.consumed_before - b.consumed == b.remaining
            consumed[i] += b.consumed
        deducted = -sum((e.amount for e in inv.ledger_entries), Decimal(0))
        applied = -sum((li.total for li in inv.line_items if li.type is LineType.APPLIED), Decimal(0))
        assert deducted == applied
    for a, c in zip(amounts, consumed, strict=True):
        assert 0 <= c <= a


# PB-5: any order or batching of the same usage gives the same invoice.
@FAST
@given(tiers=tiers_st, raw=usage_st, data=st.data())
def test_pb5_order_and_batching(
    tiers: tuple[Tier, ...], raw: list[tuple[str, int, Decimal, str, str]], data: st.DataObject
) -> None:
    contract = _contract(tiers)
    records = _records(raw)
    shuffled = data.draw(st.permutations(records))
    split: list[UsageRecord] = []
    for r in shuffled:  # split each record in two halves at the same hour
        half = (r.quantity / 2).quantize(Decimal("0.001"))
        split += [
            UsageRecord(r.product_id, r.timestamp, half, r.group_values),
            UsageRecord(r.product_id, r.timestamp, r.quantity - half, r.group_values),
        ]
    a = rated_invoice_json(rate_usage_invoice(contract, records, MARCH))
    b = rated_invoice_json(rate_usage_invoice(contract, split, MARCH))
    assert a == b


# PB-8: prorated pieces sum to the whole; a full-period proration is the full price.
@settings(max_examples=150, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**8),
    cuts=st.lists(st.integers(min_value=1, max_value=31 * 24 - 1), max_size=5, unique=True),
)
def test_pb8_proration_pieces_sum(amount: int, cuts: list[int]) -> None:
    points = [0, *sorted(cuts), 31 * 24]
    durations = [(b - a) * 3600 for a, b in itertools.pairwise(points)]
    pieces = prorate(Decimal(amount), durations)
    assert sum(pieces, Decimal(0)) == amount
    assert prorate(Decimal(amount), [31 * 24 * 3600]) == (Decimal(amount),)


# PB-7: periods are contiguous, half-open, no gaps or overlaps; anchors on 28-31 come back.
@settings(max_examples=120, deadline=None)
@given(
    year=st.integers(min_value=1970, max_value=2099),
    month=st.integers(min_value=1, max_value=12),
    day=st.integers(min_value=28, max_value=31),
    freq=st.sampled_from([Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUAL, Frequency.WEEKLY]),
    anchor_kind=st.sampled_from(list(AnchorDay)),
    offset_days=st.integers(min_value=0, max_value=40),
)
def test_pb7_periods_contiguous(
    year: int, month: int, day: int, freq: Frequency, anchor_kind: AnchorDay, offset_days: int
) -> None:
    day = min(day, calendar.monthrange(year, month)[1])
    anchor = datetime(year, month, day, tzinfo=UTC)
    start = anchor + timedelta(days=offset_days, hours=offset_days % 5)
    schedule = UsageStatementSchedule(freq, anchor_kind, anchor)
    until = start + timedelta(days=800)
    periods = list(billing_periods(schedule, start, None, until=until))
    assert periods[0].starting_at == start
    assert periods[-1].ending_before == until
    for a, b in itertools.pairwise(periods):
        assert a.ending_before == b.starting_at
        assert a.starting_at < a.ending_before
    if anchor_kind is AnchorDay.CUSTOM_DATE and freq is Frequency.MONTHLY:
        for p in periods[1:-1]:
            expected = min(day, calendar.monthrange(p.starting_at.year, p.starting_at.month)[1])
            assert p.starting_at.day == expected


def test_pb7_month_end_anchor_does_not_drift() -> None:
    schedule = UsageStatementSchedule(Frequency.MONTHLY, AnchorDay.CONTRACT_START)
    periods = list(
        billing_periods(schedule, datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC))
    )
    assert [p.ending_before.day for p in periods] == [29, 31, 30, 1]
    leap = UsageStatementSchedule(Frequency.ANNUAL, AnchorDay.CONTRACT_START)
    years = list(billing_periods(leap, datetime(2024, 2, 29, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)))
    assert [p.ending_before.date().isoformat() for p in years[:4]] == [
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
    ]


def test_usd_invoice_credit_type() -> None:
    inv = rate_usage_invoice(_contract((Tier(Decimal(1)),)), [], MARCH)
    assert inv.credit_type == USD
    assert inv.total == 0
