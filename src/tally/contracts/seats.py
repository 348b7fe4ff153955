"""SEAT_BASED subscriptions (SPEC §5.8): seat updates in a v2 edit, the seat and quantity history reads
and per-seat balances.

A seat-based subscription's terms document keeps its `seat_config` (as created) and `seat_events`: every
seat change ever accepted, in the order accepted (`{starting_at, op, seat_ids | quantity}`). Replaying them
by date (stable, so earlier edits and the order within a request win ties) gives the assigned seat ids and
the total at any instant. A seat change that moves the total is also written as an ordinary absolute
`quantity_updates` entry (marked `seat_change`), regenerated on every seat edit, so the rating engine,
the quantity schedule and invoices treat it exactly like a QUANTITY_ONLY quantity update.

A subscription converted from QUANTITY_ONLY keeps its earlier quantity updates (unmarked): its whole
quantity becomes unassigned seats, and those updates keep changing the total (the unassigned count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.contracts.balances import ledger
from tally.contracts.service import Balance, Contract
from tally.contracts.service import get as get_contract
from tally.credit_types.builtin import USD_CENTS_ID
from tally.errors import BadRequest, NotFound
from tally.kit.api import Id, Num, Req, Str, Ts, hour_aligned
from tally.kit.pagination import decode_key, encode_cursor
from tally.money.context import ZERO, add, mul, sub, total
from tally.products import service as products
from tally.rate_cards import rates as card_rates
from tally.rate_cards import service as rate_cards
from tally.rating import inputs as ri
from tally.rating.from_wire import override_from_wire, product_from_wire
from tally.rating.rates import active_overrides, is_entitled, override_targets, price_curve, rate_at
from tally.wire import format_timestamp, parse_timestamp

Doc = dict[str, Any]

SEAT_BASED = "SEAT_BASED"
SEAT_MARK = "seat_change"  # on quantity_updates entries derived from seat events
# Within one request, on the same date: removals first, then additions (docs: helper notes, Seats).
OPS = ("remove_seat_ids", "remove_unassigned_seats", "add_seat_ids", "add_unassigned_seats")
NULL_CREDIT_TYPE = "00000000-0000-0000-0000-000000000000"
MAX_BALANCES_PER_PAGE = 100


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_timestamp(value, "timestamp")


def _whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


# ------------------------------------------------------------------------------------------ replay


@dataclass(frozen=True)
class Segment:
    """The seats of a subscription over [starting_at, ending_before)."""

    starting_at: datetime
    ending_before: datetime | None
    assigned: tuple[str, ...]
    total: Decimal

    @property
    def unassigned(self) -> Decimal:
        return sub(self.total, Decimal(len(self.assigned)))


def _replay(s: Doc, fields: dict[int, str], fallback: str) -> tuple[list[Segment], list[Doc]]:
    """Replay `s`'s seat events (and unmarked quantity updates) by date. Returns the seat segments and the
    regenerated `quantity_updates`. `fields` names the request field of newly added seat events (by index
    in `seat_events`); a stored event made invalid by a new one is reported against `fallback`."""
    start = _ts(s["starting_at"])
    end = _ts(s["ending_before"]) if s.get("ending_before") else None
    cfg = s.get("seat_config") or {}
    assigned: list[str] = list(cfg.get("initial_seat_ids") or [])
    qty = Decimal(s["initial_quantity"])
    tagged: list[tuple[datetime, int | None, Doc]] = [
        (max(_ts(u["starting_at"]), start), None, u)
        for u in s.get("quantity_updates") or []
        if not u.get(SEAT_MARK)
    ]
    tagged += [(max(_ts(e["starting_at"]), start), i, e) for i, e in enumerate(s.get("seat_events") or [])]
    tagged.sort(key=lambda x: x[0])
    steps: list[tuple[datetime, tuple[str, ...], Decimal]] = [(start, tuple(assigned), qty)]
    updates: list[Doc] = []
    for at, idx, e in tagged:
        when = format_timestamp(at)
        where = fields.get(idx) if idx is not None else None

        def fail(msg: str, e: Doc = e, where: str | None = where, when: str = when) -> BadRequest:
            if where is not None:
                return BadRequest(f"{where}: {msg}")
            what = "quantity update" if "op" not in e else f"{e['op']} change"
            return BadRequest(f"{fallback}: makes the {what} stored for {when} invalid: {msg}")

        before = qty
        op = e.get("op")
        if op is None:  # a quantity update from before the subscription became seat-based
            given = e.get("quantity")
            qty = Decimal(given) if given is not None else add(qty, Decimal(e["quantity_delta"]))
            if qty < len(assigned):
                raise fail(
                    f"the quantity would become {qty} at {when}, below the {len(assigned)} assigned seats"
                )
            updates.append(e)
        elif op == "add_seat_ids":
            new = [x for x in dict.fromkeys(e["seat_ids"]) if x not in assigned]
            free = sub(qty, Decimal(len(assigned)))
            grow = max(sub(Decimal(len(new)), free), ZERO)
            qty = add(qty, grow)
            assigned.extend(new)
        elif op == "remove_seat_ids":
            gone = {x for x in e["seat_ids"] if x in assigned}
            assigned = [x for x in assigned if x not in gone]
            qty = sub(qty, Decimal(len(gone)))
        elif op == "add_unassigned_seats":
            qty = add(qty, Decimal(e["quantity"]))
        else:  # remove_unassigned_seats
            q = Decimal(e["quantity"])
            if q > qty:
                raise fail(f"the quantity would become {sub(qty, q)} at {when}")
            free = sub(qty, Decimal(len(assigned)))
            if q > free:
                raise fail(f"only {free} seats are unassigned at {when}")
            qty = sub(qty, q)
        if op is not None and qty != before:
            updates.append({"starting_at": when, "quantity": qty, SEAT_MARK: True})
        state = (tuple(assigned), qty)
        if steps[-1][0] == at:
            steps[-1] = (at, *state)
        else:
            steps.append((at, *state))
    merged: list[tuple[datetime, tuple[str, ...], Decimal]] = []
    for step in steps:
        if end is not None and step[0] >= end:
            break
        if merged and merged[-1][1:] == step[1:]:
            continue
        merged.append(step)
    segments = [
        Segment(at, merged[i + 1][0] if i + 1 < len(merged) else end, ids, q)
        for i, (at, ids, q) in enumerate(merged)
    ]
    return segments, updates


def timeline(s: Doc) -> list[Segment]:
    """The seat segments of a stored subscription (QUANTITY_ONLY ones: the quantity, no seat ids)."""
    return _replay(s, {}, "subscription")[0]


def seat_at(s: Doc, t: datetime) -> Segment | None:
    for seg in timeline(s):
        if seg.starting_at <= t and (seg.ending_before is None or t < seg.ending_before):
            return seg
    return None


# -------------------------------------------------------------------------------- v2 edit updates


def convert(s: Doc, upd: Doc, field: str) -> None:
    """`quantity_management_mode_update`: QUANTITY_ONLY -> SEAT_BASED. The whole quantity (and any
    earlier quantity updates) becomes unassigned seats; seat ids come with later seat_updates."""
    if s.get("quantity_management_mode") == SEAT_BASED:
        raise BadRequest(f"{field}: the subscription is already SEAT_BASED")
    key = upd["seat_config"]["seat_group_key"]
    if not key:
        raise BadRequest(f"{field}.seat_config.seat_group_key: must not be empty")
    steps = [Decimal(s["initial_quantity"])] + [
        Decimal(u["quantity"]) for u in s.get("quantity_updates") or [] if u.get("quantity") is not None
    ]
    steps += [
        Decimal(u["quantity_delta"]) for u in s.get("quantity_updates") or [] if u.get("quantity_delta")
    ]
    if not all(_whole(q) for q in steps):
        raise BadRequest(f"{field}: a SEAT_BASED subscription needs whole quantities (seats)")
    s["quantity_management_mode"] = SEAT_BASED
    s["seat_config"] = {
        "seat_group_key": key,
        "initial_seat_ids": [],
        "initial_unassigned_seats": Decimal(s["initial_quantity"]),
    }


def apply_updates(s: Doc, upd: Doc, field: str) -> None:
    """`seat_updates`: validate, append to the subscription's seat events, and re-derive its quantity
    updates; 400 (naming the field) when a change would leave fewer seats than assigned or below 0."""
    if s.get("quantity_management_mode") != SEAT_BASED:
        raise BadRequest(f"{field}: only for SEAT_BASED subscriptions")
    start = _ts(s["starting_at"])
    end = _ts(s["ending_before"]) if s.get("ending_before") else None
    events = list(s.get("seat_events") or [])
    fields: dict[int, str] = {}
    for op in OPS:
        for j, item in enumerate(upd.get(op) or []):
            where = f"{field}.{op}[{j}]"
            at = hour_aligned(_ts(item["starting_at"]), f"{where}.starting_at")
            if at < start or (end is not None and at >= end):
                raise BadRequest(f"{where}.starting_at: must fall within the subscription")
            event: Doc = {"starting_at": format_timestamp(at), "op": op}
            if op.endswith("_seat_ids"):
                ids = list(item["seat_ids"])
                if not ids:
                    raise BadRequest(f"{where}.seat_ids: at least one seat id is required")
                for k, x in enumerate(ids):
                    if not x:
                        raise BadRequest(f"{where}.seat_ids[{k}]: must not be empty")
                    if x in ids[:k]:
                        raise BadRequest(f"{where}.seat_ids[{k}]: {x} is listed twice")
                event["seat_ids"] = ids
            else:
                q = Decimal(item["quantity"])
                if q <= 0:
                    raise BadRequest(f"{where}.quantity: must be greater than 0")
                if not _whole(q):
                    raise BadRequest(f"{where}.quantity: must be a whole number of seats")
                event["quantity"] = q
            fields[len(events)] = f"{where}.seat_ids" if "seat_ids" in event else f"{where}.quantity"
            events.append(event)
    if not fields:
        raise BadRequest(f"{field}: at least one seat change is required")
    s["seat_events"] = events
    _, s["quantity_updates"] = _replay(s, fields, field)


# --------------------------------------------------------------------------------------- requests


class GetSeatsHistory(Req):
    contract_id: Id
    customer_id: Id
    subscription_id: Id
    covering_date: Ts | None = None
    cursor: Str | None = None
    ending_before: Ts | None = None
    limit: Num | None = None
    starting_at: Ts | None = None


class ListSeatBalances(Req):
    contract_id: Id
    customer_id: Id
    covering_date: Ts | None = None
    cursor: Str | None = None
    effective_before: Ts | None = None
    include_credits_and_commits: bool | None = None
    include_ledgers: bool | None = None
    limit: Num | None = None
    seat_ids: list[Id] | None = None
    skip_missing_seat_ids: bool | None = None
    starting_at: Ts | None = None
    subscription_ids: list[Id] | None = None


class GetQuantityHistory(Req):
    contract_id: Id
    customer_id: Id
    subscription_id: Id


def _subscription(c: Contract, subscription_id: str) -> Doc:
    for s in c.terms.get("subscriptions") or []:
        if s["id"] == subscription_id:
            found: Doc = s
            return found
    raise NotFound(f"Subscription {subscription_id} not found on contract {c.id}")


# ---------------------------------------------------------------------------------- seats history


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


# ------------------------------------------------------------------------------- quantity history


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
    overrides = [override_from_wire(o, i) for i, o in enumerate(c.terms.get("overrides") or [])]
    targeting = [
        (i, o)
        for i, o in enumerate(overrides)
        if not o.is_commit_specific and override_targets(o, product, ri.NO_GROUP, ri.NO_GROUP, freq)
    ]
    prioritization = ri.Prioritization(
        c.terms.get("multiplier_override_prioritization") or "LOWEST_MULTIPLIER"
    )

    def price(t: datetime) -> tuple[Decimal, str] | None:
        # The engine's own lookup: the rate for the billing frequency, else one of any frequency.
        rate = rate_at(rates, ri.NO_GROUP, t, freq) or rate_at(rates, ri.NO_GROUP, t)
        if rate is None:
            return None
        active = active_overrides(targeting, t)
        if not is_entitled(rate, active):
            return None
        try:
            unit = price_curve(rate, active, prioritization).curve[0].unit_price
        except ri.RatingInputError:
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


# ---------------------------------------------------------------------------------- seat balances


def _pins(doc: Doc) -> set[tuple[str, str]]:
    """(group key, value) pairs that every specifier of a balance requires: usage carrying another
    value for that key can never draw it. No specifiers = nothing pinned."""
    specs = doc.get("specifiers") or []
    if not specs or doc.get("applicable_product_ids") or doc.get("applicable_product_tags"):
        return set()
    pinned: set[tuple[str, str]] | None = None
    for sp in specs:
        pairs = {
            *(sp.get("pricing_group_values") or {}).items(),
            *(sp.get("presentation_group_values") or {}).items(),
        }
        pinned = pairs if pinned is None else pinned & pairs
    return pinned or set()


def _visible(b: Balance, covering: datetime | None, lo: datetime | None, before: datetime | None) -> bool:
    segs = ledger.segments(b.doc)
    if covering is not None and not any(g.starting_at <= covering < g.ending_before for g in segs):
        return False
    if lo is not None and not any(g.ending_before > lo for g in segs):
        return False
    return before is None or any(g.starting_at < before for g in segs)


_LEDGER_TYPES = {
    "PREPAID": {
        "PREPAID_COMMIT_SEGMENT_START",
        "PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
        "PREPAID_COMMIT_ROLLOVER",
        "PREPAID_COMMIT_EXPIRATION",
        "PREPAID_COMMIT_CANCELED",
        "PREPAID_COMMIT_CREDITED",
        "PREPAID_COMMIT_MANUAL",
        "PREPAID_COMMIT_SEAT_BASED_ADJUSTMENT",
    },
    "CREDIT": {
        "CREDIT_SEGMENT_START",
        "CREDIT_AUTOMATED_INVOICE_DEDUCTION",
        "CREDIT_EXPIRATION",
        "CREDIT_CANCELED",
        "CREDIT_CREDITED",
        "CREDIT_MANUAL",
        "CREDIT_SEAT_BASED_ADJUSTMENT",
        "CREDIT_ROLLOVER",
    },
}


@dataclass(frozen=True)
class _Seat:
    seat_id: str
    keys: frozenset[str]


def _seats(c: Contract, req: ListSeatBalances) -> list[_Seat]:
    subs = list(c.terms.get("subscriptions") or [])
    if req.subscription_ids:
        chosen = []
        for i, sid in enumerate(req.subscription_ids):
            found = [s for s in subs if s["id"] == sid]
            if not found:
                raise BadRequest(f"subscription_ids[{i}]: subscription {sid} is not on this contract")
            if found[0].get("quantity_management_mode") != SEAT_BASED:
                raise BadRequest(f"subscription_ids[{i}]: subscription {sid} is not SEAT_BASED")
            chosen.append(found[0])
    else:
        chosen = [s for s in subs if s.get("quantity_management_mode") == SEAT_BASED]
    keys: dict[str, set[str]] = {}
    for s in chosen:
        key = s["seat_config"]["seat_group_key"]
        for seg in timeline(s):
            for x in seg.assigned:
                keys.setdefault(x, set()).add(key)
    if req.seat_ids:
        for i, x in enumerate(req.seat_ids):
            if x not in keys and not req.skip_missing_seat_ids:
                raise BadRequest(
                    f"seat_ids[{i}]: seat {x} is not on this contract's seat-based subscriptions"
                )
        wanted = set(req.seat_ids)
        keys = {x: k for x, k in keys.items() if x in wanted}
    return [_Seat(x, frozenset(keys[x])) for x in sorted(keys)]


def _balance_item(b: Balance, entries: list[ledger.Entry], at: datetime, now: datetime, ledgers: bool) -> Doc:
    segs = ledger.segments(b.doc)
    access = b.doc["access_schedule"].get("access_type", "SPEND")
    item: Doc = {
        "id": b.id,
        "balance": ledger.balance_at(b.doc, entries, b.archived_at, at),
        "start_date": format_timestamp(min(g.starting_at for g in segs)),
        "end_date": format_timestamp(max(g.ending_before for g in segs)),
        "access_type": access,
        "credit_type_id": b.doc["access_schedule"].get("credit_type_id") or NULL_CREDIT_TYPE,
    }
    if ledgers:
        allowed = _LEDGER_TYPES[b.kind]
        item["ledger_entries"] = [
            {"amount": e.amount, "timestamp": format_timestamp(e.timestamp), "type": e.type}
            for e in ledger.ledger(b.kind, b.doc, entries, b.archived_at, now)
            if e.type in allowed
        ]
    return item


def _starting(b: Balance, at: datetime) -> Decimal:
    return total(g.amount for g in ledger.segments(b.doc) if g.starting_at <= at < g.ending_before)


def seat_balances(
    conn: Connection, tenant_id: str, req: ListSeatBalances, limit: int, now: datetime
) -> tuple[list[Doc], Doc]:
    """Each seat ever assigned on the contract's SEAT_BASED subscriptions (by seat id), with the
    contract's prepaid commits and credits scoped to that seat: those whose every specifier pins the
    subscription's seat_group_key to the seat id (usage of other seats can never draw them)."""
    if req.covering_date is not None and (req.starting_at is not None or req.effective_before is not None):
        raise BadRequest("covering_date: cannot be combined with starting_at or effective_before")
    c = get_contract(conn, tenant_id, req.customer_id, req.contract_id)
    seats = _seats(c, req)
    after = decode_key(req.cursor, str)
    if after is not None:
        seats = [x for x in seats if x.seat_id > after[0]]
    at = req.covering_date or now
    pool = [
        b
        for b in c.balances
        if b.kind in _LEDGER_TYPES
        and (b.archived_at is None or b.archived_at > at)
        and _visible(b, req.covering_date, req.starting_at, req.effective_before)
    ]
    pins = {b.id: _pins(b.doc) for b in pool}
    entries = ledger.entries_by_balance(conn, tenant_id, [b.id for b in pool])
    detailed = bool(req.include_credits_and_commits)
    out: list[Doc] = []
    listed = 0
    for seat in seats:
        if len(out) >= limit or (detailed and out and listed >= MAX_BALANCES_PER_PAGE):
            break
        mine = [b for b in pool if any((k, seat.seat_id) in pins[b.id] for k in seat.keys)]
        sums: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for b in mine:
            acc = b.doc["access_schedule"]
            key = (acc.get("credit_type_id") or NULL_CREDIT_TYPE, acc.get("access_type", "SPEND"))
            bal, start = sums.get(key, (ZERO, ZERO))
            sums[key] = (
                add(bal, ledger.balance_at(b.doc, entries[b.id], b.archived_at, at)),
                add(start, _starting(b, at)),
            )
        item: Doc = {
            "seat_id": seat.seat_id,
            "balances": [
                {"credit_type_id": ct, "access_type": access, "balance": bal, "starting_balance": start}
                for (ct, access), (bal, start) in sorted(sums.items())
            ],
        }
        if detailed:
            ledgers = bool(req.include_ledgers)
            item["commits"] = [
                _balance_item(b, entries[b.id], at, now, ledgers) for b in mine if b.kind == "PREPAID"
            ]
            item["credits"] = [
                _balance_item(b, entries[b.id], at, now, ledgers) for b in mine if b.kind == "CREDIT"
            ]
            listed += len(mine)
        out.append(item)
    rest = len(seats) - len(out)
    pagination: Doc = {
        "seats_included": len(out),
        "seats_available_for_next_page": rest,
        "next_page": encode_cursor([out[-1]["seat_id"]]) if rest > 0 and out else None,
    }
    return out, pagination
