"""The seats history and the quantity history of a contract's subscription (SPEC §5.8)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection

from tally.contracts.seats.replay import SEAT_BASED, Doc, timeline
from tally.contracts.seats.schemas import GetQuantityHistory, GetSeatsHistory
from tally.contracts.service import Contract
from tally.contracts.service import get as get_contract
from tally.contracts.terms import to_engine
from tally.credit_types.builtin import USD_CENTS_ID
from tally.errors import BadRequest, NotFound
from tally.kit.pagination import decode_key, encode_cursor
from tally.money.context import ZERO, mul
from tally.products import service as products
from tally.rate_cards import rates as card_rates
from tally.rate_cards import service as rate_cards
from tally.rating import inputs as ri
from tally.rating.from_wire import product_from_wire
from tally.rating.rates import active_overrides, override_targets, subscription_rate, unit_price
from tally.wire import format_timestamp, parse_timestamp


def _subscription(c: Contract, subscription_id: str) -> Doc:
    for s in c.terms.get("subscriptions") or []:
        if s["id"] == subscription_id:
            found: Doc = s
            return found
    raise NotFound(f"Subscription {subscription_id} not found on contract {c.id}")


def seats_history(
    conn: Connection, tenant_id: str, req: GetSeatsHistory, limit: int
) -> tuple[list[Doc], str | None]:
    c = get_contract(conn, tenant_id, req.customer_id, req.contract_id)
    s = _subscription(c, req.subscription_id)
    if s.get("quantity_management_mode") != SEAT_BASED:
        raise BadRequest(f"subscription_id: {req.subscription_id} is not a SEAT_BASED subscription")
    if req.covering_date is not None and (req.starting_at is not None or req.ending_before is not None):
        raise BadRequest("covering_date: cannot be combined with starting_at or ending_before")
    if req.starting_at is not None and req.ending_before is not None and req.ending_before <= req.starting_at:
        raise BadRequest("ending_before: must be after starting_at")
    after = decode_key(req.cursor, str)
    segs = timeline(s)
    if req.covering_date is not None:
        cd = req.covering_date
        segs = [g for g in segs if g.starting_at <= cd and (g.ending_before is None or cd < g.ending_before)]
    if req.starting_at is not None:
        lo = req.starting_at
        segs = [g for g in segs if g.ending_before is None or g.ending_before > lo]
    if req.ending_before is not None:
        hi = req.ending_before
        segs = [g for g in segs if g.starting_at < hi]
    if after is not None:
        mark = parse_timestamp(after[0], "next_page")
        segs = [g for g in segs if g.starting_at > mark]
    window = segs[:limit]
    nxt = encode_cursor([format_timestamp(window[-1].starting_at)]) if len(segs) > limit and window else None
    out = []
    for g in window:
        item: Doc = {
            "starting_at": format_timestamp(g.starting_at),
            "assigned_seat_ids": list(g.assigned),
            "total_quantity": int(g.total),
        }
        if g.ending_before is not None:
            item["ending_before"] = format_timestamp(g.ending_before)
        out.append(item)
    return out, nxt


def _pricer(
    conn: Connection, tenant_id: str, c: Contract, s: Doc, now: datetime
) -> tuple[Callable[[datetime], tuple[Decimal, str] | None], list[datetime], str]:
    """The subscription's unit price at an instant, as the rating engine finds it (rate for the
    billing frequency, else any frequency; contract overrides applied; not entitled = no price), the
    instants where it may change, and the rate card's fiat credit type."""
    if c.rate_card_id is None:
        return (lambda t: None), [], USD_CENTS_ID
    card = rate_cards.get(conn, tenant_id, c.rate_card_id)
    pid = s["subscription_rate"]["product_id"]
    freq = ri.Frequency(s["subscription_rate"]["billing_frequency"])
    rates = [
        r.to_rating()
        for r in card_rates.rates_for_card(conn, tenant_id, card.id)
        if r.product_id == pid and not r.pricing_group_values
    ]
    view = products.get_many(conn, tenant_id, [pid], now).get(pid)
    product = (
        product_from_wire({**view.spec, "id": view.id, "type": view.type})
        if view is not None
        else ri.Product(id=pid, name=pid)
    )
    overrides = to_engine.overrides(c.parsed.overrides)
    targeting = [
        (i, o)
        for i, o in enumerate(overrides)
        if not o.is_commit_specific and override_targets(o, product, ri.NO_GROUP, ri.NO_GROUP, freq)
    ]
    prioritization = c.parsed.multiplier_override_prioritization

    def price(t: datetime) -> tuple[Decimal, str] | None:
        rate = subscription_rate(rates, t, freq)
        if rate is None:
            return None
        try:
            unit = unit_price(rate, active_overrides(targeting, t), prioritization)
        except ri.RatingInputError:
            return None
        if unit is None:
            return None
        return unit, rate.credit_type_id or card.fiat_credit_type_id

    points = {r.starting_at for r in rates} | {r.ending_before for r in rates if r.ending_before}
    points |= {o.starting_at for _, o in targeting} | {
        o.ending_before for _, o in targeting if o.ending_before
    }
    return price, sorted(points), card.fiat_credit_type_id


def quantity_history(conn: Connection, tenant_id: str, req: GetQuantityHistory, now: datetime) -> Doc:
    """Each instant the subscription's quantity or unit price changes, with quantity x unit price
    (SEAT_BASED and QUANTITY_ONLY alike). An instant without an entitled rate shows unit price 0."""
    c = get_contract(conn, tenant_id, req.customer_id, req.contract_id)
    s = _subscription(c, req.subscription_id)
    price, rate_points, fiat = _pricer(conn, tenant_id, c, s, now)
    segs = timeline(s)
    start = segs[0].starting_at
    end = segs[-1].ending_before
    points = sorted(
        {g.starting_at for g in segs} | {p for p in rate_points if p > start and (end is None or p < end)}
    )
    history: list[Doc] = []
    custom: str | None = None
    last: tuple[Decimal, Decimal] | None = None
    for t in points:
        seg = next(g for g in reversed(segs) if g.starting_at <= t)
        found = price(t)
        unit = found[0] if found is not None else ZERO
        if found is not None and found[1] != fiat:
            custom = found[1]
        if last == (seg.total, unit):
            continue
        last = (seg.total, unit)
        history.append(
            {
                "starting_at": format_timestamp(t),
                "data": [{"quantity": seg.total, "unit_price": unit, "total": mul(seg.total, unit)}],
            }
        )
    out: Doc = {"subscription_id": s["id"], "fiat_credit_type_id": fiat, "history": history}
    if custom is not None:
        out["custom_credit_type_id"] = custom
    return out
