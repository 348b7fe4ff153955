"""A contract's rates at an instant (`getContractRateSchedule`, SPEC §4.2, §5.2, §5.3).

The rate card's rates in force at `at`, with the contract's overrides resolved by the rating engine
(tally.rating.rates): only entitled rates are listed (the card's `entitled`, replaced by the winning
override that sets it), and `override_rate` is the rate the contract actually pays when an override
applies. Commit-specific overrides only apply while a balance pays, so they are left out.

Each entry is the segment around `at` over which the rate and the set of overrides targeting it stay
the same. Segments are not clipped to the contract's own term: a contract starting later still shows
what it will pay (the default `at` is now).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tally.contracts import service
from tally.contracts.terms import model, to_engine
from tally.custom_fields import service as custom_fields
from tally.errors import BadRequest
from tally.kit.api import Id, Req, Ts
from tally.kit.pagination import encode_cursor
from tally.products.service import ProductView, get_many
from tally.rate_cards import rates as card_rates
from tally.rate_cards import schemas as card_schemas
from tally.rate_cards import service as rate_cards
from tally.rating import inputs as ri
from tally.rating.from_wire import product_from_wire
from tally.rating.prices.curve import Curve
from tally.rating.rates import IndexedOverride, active_overrides, is_entitled, override_targets, price_curve
from tally.wire import format_timestamp

PERCENT = {"PERCENTAGE", "TIERED_PERCENTAGE"}


class GetContractRateSchedule(Req):
    contract_id: Id
    customer_id: Id
    at: Ts | None = None
    # The rate card's selector: same matching as getRates / getRateSchedule.
    selectors: list[card_schemas.Selector] | None = None


@dataclass(frozen=True)
class Entry:
    rate: card_rates.RateRow
    starting_at: datetime
    ending_before: datetime | None
    override_rate: dict[str, Any] | None


def rate_schedule(
    conn: Connection,
    tenant_id: str,
    req: GetContractRateSchedule,
    at: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    contract = service.get(conn, tenant_id, req.customer_id, req.contract_id)
    after = card_rates.after_key(cursor)
    if contract.rate_card_id is None:
        return [], None
    card = rate_cards.get(conn, tenant_id, contract.rate_card_id)
    card = replace(card, product_order=tuple(rate_cards.effective_order(conn, tenant_id, card)))
    rows = [r for r in card_rates.rates_for_card(conn, tenant_id, card.id) if r.active_at(at)]
    found = get_many(conn, tenant_id, list(dict.fromkeys(r.product_id for r in rows)), at)
    picked = [r for r in rows if card_rates.selected(r, found.get(r.product_id), req.selectors)]
    terms = contract.parsed
    overrides = to_engine.overrides(terms.overrides)
    prioritization = terms.multiplier_override_prioritization
    by_id = {o.id: o.overwrite_rate for o in terms.overrides}

    keyed = [(k, r) for k, r in card_rates.ordered(card, picked) if after is None or k > after]
    entries: list[tuple[card_rates.Key, Entry]] = []
    for key, row in keyed:
        view = found.get(row.product_id)
        entry = _entry(row, view, list(enumerate(overrides)), prioritization, by_id, at)
        if entry is None:
            continue
        entries.append((key, entry))
        if len(entries) > limit:
            break
    window = entries[:limit]
    nxt = encode_cursor(list(window[-1][0])) if len(entries) > limit and window else None
    ids = {e.rate.product_id for _, e in window}
    custom = custom_fields.values_for(conn, tenant_id, "product", ids)
    units = {e.rate.credit_type_id for _, e in window} | {
        e.override_rate["credit_type"]["id"]
        for _, e in window
        if e.override_rate is not None and "credit_type" in e.override_rate
    }
    names = card_rates.credit_type_names(conn, tenant_id, units)
    out = [
        _wire(e, found.get(e.rate.product_id), custom[e.rate.product_id], names, card.id) for _, e in window
    ]
    return out, nxt


def _entry(
    row: card_rates.RateRow,
    view: ProductView | None,
    overrides: list[IndexedOverride],
    prioritization: ri.Prioritization,
    docs: dict[str, model.OverwriteRate | None],
    at: datetime,
) -> Entry | None:
    rate = row.to_rating()
    product = (
        product_from_wire({**view.spec, "id": view.id, "type": view.type})
        if view is not None
        else ri.Product(id=row.product_id, name=row.product_id)
    )
    targeting = [
        (i, o)
        for i, o in overrides
        if not o.is_commit_specific
        and override_targets(o, product, rate.pricing_group_values, ri.NO_GROUP, rate.billing_frequency)
    ]
    active = active_overrides(targeting, at)
    if not is_entitled(rate, active):
        return None
    start, end = row.starting_at, row.ending_before
    for _, o in targeting:
        for t in (o.starting_at, o.ending_before):
            if t is None:
                continue
            if start < t <= at:
                start = t
            elif t > at and (end is None or t < end):
                end = t
    return Entry(row, start, end, _override_rate(row, rate, active, prioritization, docs))


def _override_rate(
    row: card_rates.RateRow,
    rate: ri.Rate,
    active: tuple[IndexedOverride, ...],
    prioritization: ri.Prioritization,
    docs: dict[str, model.OverwriteRate | None],
) -> dict[str, Any] | None:
    overwrite = any(o.type is ri.OverrideType.OVERWRITE for _, o in active)
    if row.rate_type == "CUSTOM" and not overwrite:
        return None  # a multiplier cannot scale a client-defined price
    try:
        priced = price_curve(rate, active, prioritization)
    except ri.RatingInputError as exc:
        raise BadRequest(f"contract overrides cannot be resolved: {exc}") from None
    if not priced.override_ids:
        return None
    if overwrite:
        overwrite_rate = docs[priced.override_ids[0]]
        assert overwrite_rate is not None  # the winning override is an OVERWRITE
        return _overwrite_wire(overwrite_rate, row)
    return _curve_wire(priced.curve, priced.quantity, row)


def _overwrite_wire(ow: model.OverwriteRate, row: card_rates.RateRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rate_type": ow.rate_type,
        **model.pick(ow, ("price", "quantity", "is_prorated", "custom_rate")),
    }
    if ow.tiers:
        out["tiers"] = [model.pick(t, ("price", "size")) for t in ow.tiers]
    if row.pricing_group_values:
        out["pricing_group_values"] = dict(row.pricing_group_values)
    if ow.rate_type not in PERCENT:
        # names are filled in by _wire once every unit on the page is known
        out["credit_type"] = {"id": ow.credit_type_id or row.credit_type_id}
    return out


def _curve_wire(curve: Curve, quantity: Any, row: card_rates.RateRow) -> dict[str, Any]:
    """The list rate reshaped by multipliers: a one-band curve keeps the list rate's type, more bands
    (tiered list rates, tiered overrides) read as graduated tiers."""
    out: dict[str, Any] = {}
    if len(curve) == 1 and row.rate_type not in {"TIERED", "TIERED_PERCENTAGE"}:
        out["rate_type"] = row.rate_type
        out["price"] = curve[0].unit_price
    else:
        out["rate_type"] = "TIERED_PERCENTAGE" if row.rate_type in PERCENT else "TIERED"
        out["tiers"] = [
            {"price": b.unit_price} if b.end is None else {"price": b.unit_price, "size": b.end - b.start}
            for b in curve
        ]
    if row.rate_type == "SUBSCRIPTION":
        out["quantity"] = quantity
        out["is_prorated"] = True if row.is_prorated is None else row.is_prorated
    if row.pricing_group_values:
        out["pricing_group_values"] = dict(row.pricing_group_values)
    if row.rate_type not in PERCENT:
        out["credit_type"] = {"id": row.credit_type_id}
    return out


def _wire(
    e: Entry, view: ProductView | None, custom: dict[str, str], names: dict[str, str], card_id: str
) -> dict[str, Any]:
    item = card_rates.schedule_item(e.rate, view, custom, names)
    item["list_rate"] = item.pop("rate")
    item["rate_card_id"] = card_id
    item["entitled"] = True
    item["starting_at"] = format_timestamp(e.starting_at)
    item.pop("ending_before", None)
    if e.ending_before is not None:
        item["ending_before"] = format_timestamp(e.ending_before)
    if e.override_rate is not None:
        ov = dict(e.override_rate)
        if "credit_type" in ov:
            unit = ov["credit_type"]["id"]
            ov["credit_type"] = {"id": unit, "name": names.get(unit, "")}
        item["override_rate"] = ov
    return item
