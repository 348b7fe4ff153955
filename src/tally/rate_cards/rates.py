"""Rates on a rate card (SPEC §4.2-4.4): validation, the overlap rule, reads at an instant or over a range.

Overlap rule (docs/decisions.md, "Rates"): rates share a slot when they have the same product,
pricing_group_values and billing_frequency. A new rate that starts after an open-ended rate in its slot
closes that rate at its own starting_at (how a price change is scheduled); any other overlap is a 409.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.custom_fields import service as custom_fields
from tally.errors import BadRequest, Conflict, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.kit.pagination import decode_key, encode_cursor
from tally.products.service import ProductView, get_many
from tally.rate_cards import repository as repo
from tally.rate_cards import schemas as s
from tally.rate_cards.service import RateCard, effective_order, get, get_writable
from tally.rating import inputs as ri
from tally.wire import format_timestamp

RATEABLE = {"USAGE", "SUBSCRIPTION", "COMPOSITE"}
# Which rate types each product type takes. COMPOSITE products charge a share of other spend.
ALLOWED_RATE_TYPES = {
    "USAGE": {"FLAT", "TIERED", "CUSTOM"},
    "SUBSCRIPTION": {"FLAT", "SUBSCRIPTION", "CUSTOM"},
    "COMPOSITE": {"PERCENTAGE", "TIERED_PERCENTAGE", "CUSTOM"},
}
PERCENT_TYPES = {"PERCENTAGE", "TIERED_PERCENTAGE"}
PRICE_TYPES = {"FLAT", "PERCENTAGE", "SUBSCRIPTION"}
TIER_TYPES = {"TIERED", "TIERED_PERCENTAGE"}


@dataclass(frozen=True)
class TierRow:
    price: Decimal
    size: Decimal | None = None


@dataclass(frozen=True)
class CommitRateRow:
    rate_type: str
    price: Decimal | None = None
    tiers: tuple[TierRow, ...] = ()


@dataclass(frozen=True)
class RateRow:
    id: str
    rate_card_id: str
    product_id: str
    starting_at: datetime
    ending_before: datetime | None
    entitled: bool
    rate_type: str
    price: Decimal | None
    quantity: Decimal | None
    tiers: tuple[TierRow, ...]
    is_prorated: bool | None
    billing_frequency: str | None
    pricing_group_values: tuple[tuple[str, str], ...]  # sorted (key, value) pairs
    credit_type_id: str
    commit_rate: CommitRateRow | None
    custom_rate: dict[str, Any] | None

    @classmethod
    def of(cls, row: Row[Any]) -> RateRow:
        cr = row.commit_rate
        return cls(
            id=row.id,
            rate_card_id=row.rate_card_id,
            product_id=row.product_id,
            starting_at=row.starting_at,
            ending_before=row.ending_before,
            entitled=bool(row.entitled),
            rate_type=row.rate_type,
            price=row.price,
            quantity=row.quantity,
            tiers=_tiers(row.tiers),
            is_prorated=row.is_prorated,
            billing_frequency=row.billing_frequency,
            pricing_group_values=tuple(sorted((row.pricing_group_values or {}).items())),
            credit_type_id=row.credit_type_id,
            commit_rate=None
            if cr is None
            else CommitRateRow(cr["rate_type"], _dec(cr.get("price")), _tiers(cr.get("tiers"))),
            custom_rate=row.custom_rate,
        )

    @property
    def slot(self) -> tuple[str, tuple[tuple[str, str], ...], str | None]:
        return (self.product_id, self.pricing_group_values, self.billing_frequency)

    def active_at(self, t: datetime) -> bool:
        return self.starting_at <= t and (self.ending_before is None or t < self.ending_before)

    def to_rating(self) -> ri.Rate:
        """The rating engine's snapshot of this rate."""
        return ri.Rate(
            product_id=self.product_id,
            rate_type=ri.RateType(self.rate_type),
            starting_at=self.starting_at,
            ending_before=self.ending_before,
            entitled=self.entitled,
            price=self.price,
            tiers=tuple(ri.Tier(t.price, t.size) for t in self.tiers),
            quantity=self.quantity,
            is_prorated=True if self.is_prorated is None else self.is_prorated,
            billing_frequency=None
            if self.billing_frequency is None
            else ri.Frequency(self.billing_frequency),
            pricing_group_values=self.pricing_group_values,
            credit_type_id=self.credit_type_id,
            commit_rate=None
            if self.commit_rate is None
            else ri.CommitRate(
                ri.RateType(self.commit_rate.rate_type),
                self.commit_rate.price,
                tuple(ri.Tier(t.price, t.size) for t in self.commit_rate.tiers),
            ),
            custom_rate=self.custom_rate,
        )


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


def _tiers(doc: list[dict[str, Any]] | None) -> tuple[TierRow, ...]:
    return tuple(TierRow(Decimal(t["price"]), _dec(t.get("size"))) for t in doc or [])


def rates_for_card(conn: Connection, tenant_id: str, rate_card_id: str) -> list[RateRow]:
    """Every rate on the card (any time), by product then starting_at; for rating and contracts."""
    get(conn, tenant_id, rate_card_id)
    return [RateRow.of(r) for r in repo.rates_of(conn, tenant_id, rate_card_id)]


# ---------------------------------------------------------------------------------------- validation


def _check_tiers(tiers: list[s.Tier] | None, field: str, percent: bool) -> list[dict[str, Any]]:
    if not tiers:
        raise BadRequest(f"{field}: required and non-empty for a tiered rate")
    for i, t in enumerate(tiers):
        if t.size is None and i != len(tiers) - 1:
            raise BadRequest(f"{field}[{i}].size: only the last tier may omit size")
        _check_price(t.price, f"{field}[{i}].price", percent)
    return [{"price": t.price, "size": t.size} for t in tiers]


def _check_price(price: Decimal | None, field: str, percent: bool) -> Decimal:
    if price is None:
        raise BadRequest(f"{field}: required")
    if price < 0:
        raise BadRequest(f"{field}: must be ≥ 0")
    if percent and price > 1:
        raise BadRequest(f"{field}: a percentage is a fraction between 0 and 1")
    return price


def _pricing(
    rate_type: str, price: Decimal | None, tiers: list[s.Tier] | None, field: str
) -> tuple[Decimal | None, list[dict[str, Any]] | None]:
    percent = rate_type in PERCENT_TYPES
    if rate_type in PRICE_TYPES:
        if tiers is not None:
            raise BadRequest(f"{field}tiers: not allowed for a {rate_type} rate")
        return _check_price(price, f"{field}price", percent), None
    if rate_type in TIER_TYPES:
        if price is not None:
            raise BadRequest(f"{field}price: not allowed for a {rate_type} rate; use tiers")
        return None, _check_tiers(tiers, f"{field}tiers", percent)
    if price is not None or tiers is not None:
        raise BadRequest(f"{field}: price and tiers are not allowed for a CUSTOM rate; use custom_rate")
    return None, None


def _commit_rate(rate: s.RateIn, field: str) -> dict[str, Any] | None:
    cr = rate.commit_rate
    if cr is None:
        return None
    if cr.rate_type not in PRICE_TYPES | TIER_TYPES or cr.rate_type == "SUBSCRIPTION":
        raise BadRequest(
            f"{field}commit_rate.rate_type: must be FLAT, TIERED, PERCENTAGE or TIERED_PERCENTAGE"
        )
    if (cr.rate_type in PERCENT_TYPES) != (rate.rate_type in PERCENT_TYPES):
        raise BadRequest(f"{field}commit_rate.rate_type: {cr.rate_type} does not fit a {rate.rate_type} rate")
    price, tiers = _pricing(cr.rate_type, cr.price, cr.tiers, f"{field}commit_rate.")
    return {"rate_type": cr.rate_type, "price": price, "tiers": tiers}


def _row(
    card: RateCard, rate: s.RateIn, product: ProductView | None, field: str, now: datetime
) -> dict[str, Any]:
    """Validate one rate against its card and product; the row to insert."""
    hour_aligned(rate.starting_at, f"{field}starting_at")
    if rate.ending_before is not None:
        hour_aligned(rate.ending_before, f"{field}ending_before")
        if rate.ending_before <= rate.starting_at:
            raise BadRequest(f"{field}ending_before: must be after starting_at")
    if product is None:
        raise NotFound(f"{field}product_id: product {rate.product_id} not found")
    if product.type not in RATEABLE:
        raise BadRequest(
            f"{field}product_id: {product.type} products cannot go on a rate card "
            "(only USAGE, COMPOSITE and SUBSCRIPTION)"
        )
    if product.archived_at is not None:
        raise BadRequest(f"{field}product_id: product {product.id} is archived and cannot get new rates")
    if rate.rate_type not in ALLOWED_RATE_TYPES[product.type]:
        allowed = ", ".join(sorted(ALLOWED_RATE_TYPES[product.type]))
        raise BadRequest(
            f"{field}rate_type: a {product.type} product takes {allowed} rates, not {rate.rate_type}"
        )
    price, tiers = _pricing(rate.rate_type, rate.price, rate.tiers, field)

    quantity = rate.quantity
    is_prorated = rate.is_prorated
    if rate.rate_type == "SUBSCRIPTION":
        quantity = Decimal(1) if quantity is None else quantity
        if quantity < 0:
            raise BadRequest(f"{field}quantity: must be ≥ 0")
        if is_prorated is False:
            raise BadRequest(f"{field}is_prorated: must be true for a SUBSCRIPTION rate")
        is_prorated = True
    else:
        if quantity is not None:
            raise BadRequest(f"{field}quantity: only allowed for a SUBSCRIPTION rate")
        if is_prorated is not None:
            raise BadRequest(f"{field}is_prorated: only allowed for a SUBSCRIPTION rate")

    if rate.rate_type == "CUSTOM":
        if not rate.custom_rate:
            raise BadRequest(f"{field}custom_rate: required for a CUSTOM rate")
    elif rate.custom_rate is not None:
        raise BadRequest(f"{field}custom_rate: only allowed for a CUSTOM rate")

    if product.type == "SUBSCRIPTION":
        if rate.rate_type == "FLAT" and rate.billing_frequency is None:
            raise BadRequest(f"{field}billing_frequency: required for a FLAT rate on a SUBSCRIPTION product")
    elif rate.billing_frequency is not None:
        raise BadRequest(f"{field}billing_frequency: only allowed for SUBSCRIPTION products")

    pgv = rate.pricing_group_values or None
    if pgv is not None:
        keys = set(product.pricing_group_key or [])
        if set(pgv) != keys:
            want = sorted(keys) if keys else "no pricing_group_key"
            raise BadRequest(
                f"{field}pricing_group_values: keys must match the product's pricing_group_key ({want})"
            )

    if rate.rate_type in PERCENT_TYPES:
        credit_type_id = card.fiat_credit_type_id  # ignored: a percentage takes its base's credit type
    else:
        credit_type_id = rate.credit_type_id or card.fiat_credit_type_id
        if credit_type_id not in card.allowed_credit_types():
            raise BadRequest(
                f"{field}credit_type_id: {credit_type_id} is neither the card's fiat currency nor a "
                "pricing unit with a conversion on the card"
            )
    return {
        "id": new_id(),
        "rate_card_id": card.id,
        "product_id": product.id,
        "starting_at": rate.starting_at,
        "ending_before": rate.ending_before,
        "entitled": rate.entitled,
        "rate_type": rate.rate_type,
        "price": price,
        "quantity": quantity,
        "tiers": tiers,
        "is_prorated": is_prorated,
        "billing_frequency": rate.billing_frequency,
        "pricing_group_values": pgv,
        "credit_type_id": credit_type_id,
        "commit_rate": _commit_rate(rate, field),
        "custom_rate": rate.custom_rate,
        "created_at": now,
    }


# ------------------------------------------------------------------------------------------- writing


def add(
    conn: Connection, tenant_id: str, card_id: str, rates: list[s.RateIn], batch: bool, now: datetime
) -> list[RateRow]:
    """Validate and store rates, all or nothing; returns the stored rows in request order."""
    card = get_writable(conn, tenant_id, card_id)
    product_ids = list(dict.fromkeys(r.product_id for r in rates))
    found = get_many(conn, tenant_id, product_ids, now)
    rows = []
    for i, rate in enumerate(rates):
        field = f"rates[{i}]." if batch else ""
        row = _row(card, rate, found.get(rate.product_id), field, now)
        row["tenant_id"] = tenant_id
        rows.append(row)
    new = [_pending(row) for row in rows]
    existing = [RateRow.of(r) for r in repo.rates_of(conn, tenant_id, card.id, product_ids)]
    _check_credit_types(existing, new, batch)
    closed = _place(existing, new, batch)
    for rate_id, end in closed.items():
        if rate_id in {n.id for n in new}:
            next(row for row in rows if row["id"] == rate_id)["ending_before"] = end
        else:
            repo.end_rate(conn, tenant_id, rate_id, end)
    repo.insert_rates(conn, rows)
    by_id = {n.id: n for n in new}
    return [replace(by_id[row["id"]], ending_before=row["ending_before"]) for row in rows]


def _pending(row: dict[str, Any]) -> RateRow:
    cr = row["commit_rate"]
    return RateRow(
        id=row["id"],
        rate_card_id=row["rate_card_id"],
        product_id=row["product_id"],
        starting_at=row["starting_at"],
        ending_before=row["ending_before"],
        entitled=row["entitled"],
        rate_type=row["rate_type"],
        price=row["price"],
        quantity=row["quantity"],
        tiers=_tiers(row["tiers"]),
        is_prorated=row["is_prorated"],
        billing_frequency=row["billing_frequency"],
        pricing_group_values=tuple(sorted((row["pricing_group_values"] or {}).items())),
        credit_type_id=row["credit_type_id"],
        commit_rate=None if cr is None else CommitRateRow(cr["rate_type"], cr["price"], _tiers(cr["tiers"])),
        custom_rate=row["custom_rate"],
    )


def _where(i: int, batch: bool) -> str:
    return f"rates[{i}]" if batch else "rate"


def _check_credit_types(existing: list[RateRow], new: list[RateRow], batch: bool) -> None:
    """Once a product is priced in one unit on a card, its unit cannot change (SPEC §4.1)."""
    unit: dict[str, str] = {}
    for r in existing:
        if r.rate_type not in PERCENT_TYPES:
            unit.setdefault(r.product_id, r.credit_type_id)
    for i, r in enumerate(new):
        if r.rate_type in PERCENT_TYPES:
            continue
        have = unit.setdefault(r.product_id, r.credit_type_id)
        if have != r.credit_type_id:
            raise BadRequest(
                f"{_where(i, batch)}.credit_type_id: product {r.product_id} is already priced in {have} "
                "on this rate card; its pricing unit cannot change"
            )


def _overlaps(a: RateRow, start: datetime, end: datetime | None) -> bool:
    return (end is None or a.starting_at < end) and (a.ending_before is None or start < a.ending_before)


def _place(existing: list[RateRow], new: list[RateRow], batch: bool) -> dict[str, datetime]:
    """Apply the overlap rule; returns {rate id: new ending_before} for rates the new ones close."""
    placed = list(existing)
    closed: dict[str, datetime] = {}
    # Earliest first, so a batch that schedules several changes for one slot works in any order.
    for i, rate in sorted(enumerate(new), key=lambda p: p[1].starting_at):
        for j, other in enumerate(placed):
            if other.slot != rate.slot:
                continue
            if other.ending_before is None and other.starting_at < rate.starting_at:
                placed[j] = replace(other, ending_before=rate.starting_at)
                closed[other.id] = rate.starting_at
            elif _overlaps(other, rate.starting_at, rate.ending_before):
                raise Conflict(
                    f"{_where(i, batch)}: overlaps the rate for product {rate.product_id} starting "
                    f"{format_timestamp(other.starting_at)}"
                    + (f" and ending {format_timestamp(other.ending_before)}" if other.ending_before else "")
                    + " with the same pricing_group_values and billing_frequency"
                )
        placed.append(rate)
    return closed


# ------------------------------------------------------------------------------------------- reading


def selected(rate: RateRow, product: ProductView | None, selectors: list[s.Selector] | None) -> bool:
    if not selectors:
        return True
    return any(_matches(rate, product, sel) for sel in selectors)


def _matches(rate: RateRow, product: ProductView | None, sel: s.Selector) -> bool:
    pgv = dict(rate.pricing_group_values)
    if sel.product_id is not None and sel.product_id != rate.product_id:
        return False
    if sel.product_tags and not set(sel.product_tags) & set(product.tags if product else []):
        return False
    if sel.pricing_group_values is not None and pgv != sel.pricing_group_values:
        return False
    if sel.partial_pricing_group_values and any(
        pgv.get(k) != v for k, v in sel.partial_pricing_group_values.items()
    ):
        return False
    return sel.billing_frequency is None or sel.billing_frequency == rate.billing_frequency


Key = tuple[int, str, str, str]


def ordered(card: RateCard, rates: Iterable[RateRow]) -> list[tuple[Key, RateRow]]:
    rank = {pid: i for i, pid in enumerate(card.product_order)}
    last = len(rank)
    keyed = [
        ((rank.get(r.product_id, last), r.product_id, format_timestamp(r.starting_at), r.id), r)
        for r in rates
    ]
    return sorted(keyed, key=lambda p: p[0])


def after_key(cursor: str | None) -> Key | None:
    key = decode_key(cursor, int, str, str, str)
    return None if key is None else (key[0], key[1], key[2], key[3])


def _page(
    conn: Connection,
    tenant_id: str,
    card: RateCard,
    rates: list[RateRow],
    selectors: list[s.Selector] | None,
    at: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    found = get_many(conn, tenant_id, list(dict.fromkeys(r.product_id for r in rates)), at)
    picked = [r for r in rates if selected(r, found.get(r.product_id), selectors)]
    after = after_key(cursor)
    keyed = [(k, r) for k, r in ordered(card, picked) if after is None or k > after]
    window = keyed[:limit]
    nxt = encode_cursor(list(window[-1][0])) if len(keyed) > limit and window else None
    custom = custom_fields.values_for(conn, tenant_id, "product", {r.product_id for _, r in window})
    names = credit_type_names(conn, tenant_id, {r.credit_type_id for _, r in window})
    return [schedule_item(r, found.get(r.product_id), custom[r.product_id], names) for _, r in window], nxt


def get_rates(
    conn: Connection, tenant_id: str, req: s.GetRates, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    card = get(conn, tenant_id, req.rate_card_id)
    rates = [
        r for r in (RateRow.of(x) for x in repo.rates_of(conn, tenant_id, card.id)) if r.active_at(req.at)
    ]
    return _page(
        conn, tenant_id, _with_order(conn, tenant_id, card), rates, req.selectors, req.at, cursor, limit
    )


def get_rate_schedule(
    conn: Connection, tenant_id: str, req: s.GetRateSchedule, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    if req.ending_before is not None and req.ending_before <= req.starting_at:
        raise BadRequest("ending_before: must be after starting_at")
    card = get(conn, tenant_id, req.rate_card_id)
    rates = [
        RateRow.of(x)
        for x in repo.rates_between(conn, tenant_id, card.id, req.starting_at, req.ending_before)
    ]
    return _page(
        conn,
        tenant_id,
        _with_order(conn, tenant_id, card),
        rates,
        req.selectors,
        req.starting_at,
        cursor,
        limit,
    )


def _with_order(conn: Connection, tenant_id: str, card: RateCard) -> RateCard:
    return replace(card, product_order=tuple(effective_order(conn, tenant_id, card)))


# ---------------------------------------------------------------------------------------------- wire


def credit_type_names(conn: Connection, tenant_id: str, ids: Iterable[str]) -> dict[str, str]:
    return {i: row.name for i, row in repo.credit_types(conn, tenant_id, sorted(set(ids))).items()}


def _tiers_wire(tiers: tuple[TierRow, ...]) -> list[dict[str, Any]]:
    return [{"price": t.price} if t.size is None else {"price": t.price, "size": t.size} for t in tiers]


def commit_rate_wire(cr: CommitRateRow) -> dict[str, Any]:
    out: dict[str, Any] = {"rate_type": cr.rate_type}
    if cr.price is not None:
        out["price"] = cr.price
    if cr.tiers:
        out["tiers"] = _tiers_wire(cr.tiers)
    return out


def rate_wire(r: RateRow, names: dict[str, str]) -> dict[str, Any]:
    """The shared `Rate` shape (addRate's data and getRates' `rate`)."""
    out: dict[str, Any] = {"rate_type": r.rate_type}
    if r.price is not None:
        out["price"] = r.price
    if r.tiers:
        out["tiers"] = _tiers_wire(r.tiers)
    if r.quantity is not None:
        out["quantity"] = r.quantity
    if r.is_prorated is not None:
        out["is_prorated"] = r.is_prorated
    if r.pricing_group_values:
        out["pricing_group_values"] = dict(r.pricing_group_values)
    if r.rate_type not in PERCENT_TYPES:
        out["credit_type"] = {"id": r.credit_type_id, "name": names.get(r.credit_type_id, "")}
    if r.custom_rate is not None:
        out["custom_rate"] = r.custom_rate
    return out


def add_rate_wire(r: RateRow, names: dict[str, str]) -> dict[str, Any]:
    out = rate_wire(r, names)
    if r.commit_rate is not None:
        out["commit_rate"] = commit_rate_wire(r.commit_rate)
    return out


def schedule_item(
    r: RateRow, product: ProductView | None, custom: dict[str, str], names: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "product_id": r.product_id,
        "product_name": product.name if product else "",
        "product_tags": list(product.tags) if product else [],
        "product_custom_fields": custom,
        "entitled": r.entitled,
        "starting_at": format_timestamp(r.starting_at),
        "rate": rate_wire(r, names),
    }
    if r.ending_before is not None:
        out["ending_before"] = format_timestamp(r.ending_before)
    if r.billing_frequency is not None:
        out["billing_frequency"] = r.billing_frequency
    if r.pricing_group_values:
        out["pricing_group_values"] = dict(r.pricing_group_values)
    if r.commit_rate is not None:
        out["commit_rate"] = commit_rate_wire(r.commit_rate)
    return out
