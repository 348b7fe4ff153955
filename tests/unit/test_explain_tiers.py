"""Explain's per-event tier shares (tally.invoices.explain.tier_shares): whatever the events and the tiers,
the events' shares of each tier add up to the part of the line's total that lies in that tier."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tally.invoices.explain import Tier, tier_shares

amounts = st.decimals(min_value=Decimal("-50"), max_value=Decimal("200"), places=3, allow_nan=False)
sizes = st.lists(st.decimals(min_value=Decimal("0.5"), max_value=Decimal("100"), places=2), max_size=4)


def _tiers(widths: list[Decimal]) -> list[Tier]:
    starts = [Decimal(0)]
    for w in widths:
        starts.append(starts[-1] + w)
    return [
        Tier(i + 1, s, starts[i + 1] if i + 1 < len(starts) else None, Decimal(1), Decimal(0), Decimal(0))
        for i, s in enumerate(starts)
    ]


def _in_tier(t: Tier, total: Decimal) -> Decimal:
    top = total if t.ending_before is None else min(total, t.ending_before)
    return max(Decimal(0), top - t.starting_at)


@given(widths=sizes, steps=st.lists(amounts, max_size=30))
def test_shares_add_up_to_each_tiers_quantity(widths: list[Decimal], steps: list[Decimal]) -> None:
    tiers = _tiers(widths)
    running = Decimal(0)
    held = {t.number: Decimal(0) for t in tiers}
    for step in steps:
        for number, part in tier_shares(tiers, running, running + step):
            held[number] += part
        running += step
    total = max(running, Decimal(0))
    # Signed shares telescope (a fall gives back what a rise took): what stays in each tier is the part of
    # [0, total) inside it, even when the running total dips below zero on the way.
    assert held == {t.number: _in_tier(t, total) for t in tiers}


def test_an_event_across_a_tier_boundary_is_split() -> None:
    # Tiers [0, 5) and [5, ...): a move from 3 to 7 holds 2 of tier 1 and 2 of tier 2.
    tiers = _tiers([Decimal(5)])
    assert tier_shares(tiers, Decimal(3), Decimal(7)) == [(1, Decimal(2)), (2, Decimal(2))]
    # Falling back from 7 to 3 gives both back.
    assert tier_shares(tiers, Decimal(7), Decimal(3)) == [(1, Decimal(-2)), (2, Decimal(-2))]
