"""Rate cards (SPEC §4.1): the card itself, its aliases, credit type conversions, product order and
named schedules. Rates live in tally.rate_cards.rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.custom_fields import service as custom_fields
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.products import service as products
from tally.rate_cards import repository as repo
from tally.rate_cards import schemas as s
from tally.wire import format_timestamp, parse_timestamp

ENTITY = "rate_card"
USD_CENTS_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
SCHEDULE_OWNER = "rate_card"


@dataclass(frozen=True)
class Conversion:
    custom_credit_type_id: str
    fiat_per_custom_credit: Decimal


@dataclass(frozen=True)
class AliasView:
    id: str
    name: str
    starting_at: datetime | None
    ending_before: datetime | None


@dataclass(frozen=True)
class RateCard:
    id: str
    name: str
    description: str | None
    fiat_credit_type_id: str
    credit_type_conversions: tuple[Conversion, ...]
    product_order: tuple[str, ...]
    created_at: datetime
    created_by: str
    archived_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> RateCard:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            fiat_credit_type_id=row.fiat_credit_type_id,
            credit_type_conversions=tuple(
                Conversion(c["custom_credit_type_id"], Decimal(c["fiat_per_custom_credit"]))
                for c in row.credit_type_conversions
            ),
            product_order=tuple(row.product_order),
            created_at=row.created_at,
            created_by=row.created_by,
            archived_at=row.archived_at,
        )

    def allowed_credit_types(self) -> set[str]:
        return {self.fiat_credit_type_id} | {c.custom_credit_type_id for c in self.credit_type_conversions}


# ---------------------------------------------------------------------------------------------- cards


def get(conn: Connection, tenant_id: str, card_id: str, *, lock: bool = False) -> RateCard:
    row = repo.get_card(conn, tenant_id, card_id, lock=lock)
    if row is None:
        raise NotFound(f"Rate card {card_id} not found")
    return RateCard.of(row)


def get_writable(conn: Connection, tenant_id: str, card_id: str) -> RateCard:
    """The card, locked for this transaction; archived cards take no more changes."""
    card = get(conn, tenant_id, card_id, lock=True)
    if card.archived_at is not None:
        raise BadRequest(f"Rate card {card_id} is archived and cannot be changed")
    return card


def _check_conversions(
    conn: Connection, tenant_id: str, conversions: list[s.CreditTypeConversion], field: str, taken: set[str]
) -> list[dict[str, Any]]:
    found = repo.credit_types(conn, tenant_id, [c.custom_credit_type_id for c in conversions])
    out = []
    seen = set(taken)
    for i, c in enumerate(conversions):
        ct = found.get(c.custom_credit_type_id)
        where = f"{field}[{i}].custom_credit_type_id"
        if ct is None or ct.is_currency:
            raise BadRequest(
                f"{where}: {c.custom_credit_type_id} is not a custom pricing unit of this account"
            )
        if ct.archived_at is not None:
            raise BadRequest(f"{where}: pricing unit {c.custom_credit_type_id} is archived")
        if c.custom_credit_type_id in seen:
            raise BadRequest(
                f"{where}: a conversion for {c.custom_credit_type_id} already exists and cannot be modified"
            )
        seen.add(c.custom_credit_type_id)
        out.append(
            {
                "custom_credit_type_id": c.custom_credit_type_id,
                "fiat_per_custom_credit": c.fiat_per_custom_credit,
            }
        )
    return out


def _check_aliases(aliases: list[s.Alias], field: str) -> None:
    for i, a in enumerate(aliases):
        if a.starting_at and a.ending_before and a.ending_before <= a.starting_at:
            raise BadRequest(f"{field}[{i}].ending_before: must be after starting_at")
        for j, b in enumerate(aliases[:i]):
            if b.name == a.name and _ranges_overlap(
                a.starting_at, a.ending_before, b.starting_at, b.ending_before
            ):
                raise BadRequest(f"{field}[{i}]: alias {a.name!r} overlaps {field}[{j}]")


def _ranges_overlap(
    a0: datetime | None, a1: datetime | None, b0: datetime | None, b1: datetime | None
) -> bool:
    return (a1 is None or b0 is None or b0 < a1) and (b1 is None or a0 is None or a0 < b1)


def create(conn: Connection, tenant_id: str, req: s.CreateRateCard, created_by: str, now: datetime) -> str:
    fiat_id = req.fiat_credit_type_id or USD_CENTS_ID
    fiat = repo.credit_types(conn, tenant_id, [fiat_id]).get(fiat_id)
    if fiat is None or not fiat.is_currency:
        raise BadRequest(f"fiat_credit_type_id: {fiat_id} is not a fiat currency")
    conversions = _check_conversions(
        conn, tenant_id, req.credit_type_conversions or [], "credit_type_conversions", set()
    )
    _check_aliases(req.aliases or [], "aliases")
    card_id = new_id()
    repo.insert_card(
        conn,
        {
            "id": card_id,
            "tenant_id": tenant_id,
            "name": req.name,
            "description": req.description,
            "fiat_credit_type_id": fiat_id,
            "credit_type_conversions": conversions,
            "product_order": [],
            "created_at": now,
            "created_by": created_by,
        },
    )
    _insert_aliases(conn, tenant_id, card_id, req.aliases or [], now)
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, ENTITY, card_id, req.custom_fields)
    return card_id


def _insert_aliases(
    conn: Connection, tenant_id: str, card_id: str, aliases: list[s.Alias], now: datetime
) -> None:
    repo.insert_aliases(
        conn,
        [
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "rate_card_id": card_id,
                "name": a.name,
                "starting_at": a.starting_at,
                "ending_before": a.ending_before,
                "created_at": now,
            }
            for a in aliases
        ],
    )


def update(conn: Connection, tenant_id: str, req: s.UpdateRateCard, now: datetime) -> None:
    card = get_writable(conn, tenant_id, req.rate_card_id)
    values: dict[str, Any] = {}
    if req.name is not None:
        values["name"] = req.name
    if req.description is not None:
        values["description"] = req.description
    if req.add_credit_type_conversions:
        existing = {c.custom_credit_type_id for c in card.credit_type_conversions}
        added = _check_conversions(
            conn, tenant_id, req.add_credit_type_conversions, "add_credit_type_conversions", existing
        )
        values["credit_type_conversions"] = [
            {
                "custom_credit_type_id": c.custom_credit_type_id,
                "fiat_per_custom_credit": c.fiat_per_custom_credit,
            }
            for c in card.credit_type_conversions
        ] + added
    if req.aliases is not None:
        _check_aliases(req.aliases, "aliases")
        _replace_aliases(conn, tenant_id, card.id, req.aliases, now)
    repo.update_card(conn, tenant_id, card.id, values)


def _replace_aliases(
    conn: Connection, tenant_id: str, card_id: str, wanted: list[s.Alias], now: datetime
) -> None:
    """Replace the card's aliases. An unchanged alias keeps its row, so re-sending the same list does not
    make this card the most recently assigned owner again."""
    current = aliases(conn, tenant_id, [card_id])[card_id]
    keep: set[str] = set()
    fresh: list[s.Alias] = []
    for a in wanted:
        same = next(
            (
                c
                for c in current
                if c.id not in keep
                and (c.name, c.starting_at, c.ending_before) == (a.name, a.starting_at, a.ending_before)
            ),
            None,
        )
        if same is None:
            fresh.append(a)
        else:
            keep.add(same.id)
    repo.delete_aliases(conn, tenant_id, [c.id for c in current if c.id not in keep])
    _insert_aliases(conn, tenant_id, card_id, fresh, now)


def archive(conn: Connection, tenant_id: str, card_id: str, now: datetime) -> None:
    get(conn, tenant_id, card_id)
    repo.archive_card(conn, tenant_id, card_id, now)


def page(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[RateCard]:
    return [RateCard.of(row) for row in repo.page_cards(conn, tenant_id, after, limit)]


def aliases(conn: Connection, tenant_id: str, card_ids: list[str]) -> dict[str, list[AliasView]]:
    out: dict[str, list[AliasView]] = {i: [] for i in card_ids}
    for row in repo.aliases_of(conn, tenant_id, card_ids):
        out[row.rate_card_id].append(AliasView(row.id, row.name, row.starting_at, row.ending_before))
    return out


def find_alias(conn: Connection, tenant_id: str, name: str, at: datetime) -> str | None:
    """The (unarchived) rate card an alias points to at `at`: the most recently assigned one wins."""
    rows = repo.alias_candidates(conn, tenant_id, name, at)
    return rows[0].rate_card_id if rows else None


def resolve_alias(conn: Connection, tenant_id: str, name: str, at: datetime) -> str:
    card_id = find_alias(conn, tenant_id, name, at)
    if card_id is None:
        raise BadRequest(f"rate_card_alias: no rate card has alias {name!r} at {format_timestamp(at)}")
    return card_id


def to_wire(conn: Connection, tenant_id: str, cards: list[RateCard]) -> list[dict[str, Any]]:
    """Wire shape of several cards, with their aliases, credit type names and custom fields batched."""
    ids = [c.id for c in cards]
    by_card = aliases(conn, tenant_id, ids)
    custom = custom_fields.values_for(conn, tenant_id, ENTITY, ids)
    ct_ids = {c.fiat_credit_type_id for c in cards} | {
        v.custom_credit_type_id for c in cards for v in c.credit_type_conversions
    }
    names = {i: row.name for i, row in repo.credit_types(conn, tenant_id, sorted(ct_ids)).items()}
    out = []
    for c in cards:
        item: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "created_at": format_timestamp(c.created_at),
            "created_by": c.created_by,
            "fiat_credit_type": {"id": c.fiat_credit_type_id, "name": names.get(c.fiat_credit_type_id, "")},
            "credit_type_conversions": [
                {
                    "custom_credit_type": {
                        "id": v.custom_credit_type_id,
                        "name": names.get(v.custom_credit_type_id, ""),
                    },
                    # A string on the wire (the SDK types it `str`), so the exact digits survive.
                    "fiat_per_custom_credit": str(v.fiat_per_custom_credit),
                }
                for v in c.credit_type_conversions
            ],
            "aliases": [_alias_wire(a) for a in by_card[c.id]],
            "custom_fields": custom[c.id],
        }
        if c.description is not None:
            item["description"] = c.description
        out.append(item)
    return out


def _alias_wire(a: AliasView) -> dict[str, Any]:
    out: dict[str, Any] = {"name": a.name}
    if a.starting_at is not None:
        out["starting_at"] = format_timestamp(a.starting_at)
    if a.ending_before is not None:
        out["ending_before"] = format_timestamp(a.ending_before)
    return out


# -------------------------------------------------------------------------------------- product order


def effective_order(conn: Connection, tenant_id: str, card: RateCard) -> list[str]:
    """Stored order first, then the card's other priced products by id (SPEC §4.5)."""
    order = list(card.product_order)
    placed = set(order)
    return order + [p for p in repo.card_product_ids(conn, tenant_id, card.id) if p not in placed]


def _check_products(conn: Connection, tenant_id: str, ids: list[str], field: str, now: datetime) -> None:
    found = products.get_many(conn, tenant_id, list(dict.fromkeys(ids)), now)
    for i, pid in enumerate(ids):
        if pid not in found:
            raise BadRequest(f"{field}[{i}]: product {pid} not found")


def set_product_order(conn: Connection, tenant_id: str, req: s.SetProductOrder, now: datetime) -> None:
    card = get_writable(conn, tenant_id, req.rate_card_id)
    seen: set[str] = set()
    for i, pid in enumerate(req.product_order):
        if pid in seen:
            raise BadRequest(f"product_order[{i}]: product {pid} is listed twice")
        seen.add(pid)
    _check_products(conn, tenant_id, req.product_order, "product_order", now)
    repo.update_card(conn, tenant_id, card.id, {"product_order": list(req.product_order)})


def move_products(conn: Connection, tenant_id: str, req: s.MoveProducts, now: datetime) -> None:
    card = get_writable(conn, tenant_id, req.rate_card_id)
    for i, move in enumerate(req.product_moves):
        if move.position != move.position.to_integral_value() or move.position < 0:
            raise BadRequest(f"product_moves[{i}].position: must be a whole number ≥ 0")
    _check_products(conn, tenant_id, [m.product_id for m in req.product_moves], "product_moves", now)
    order = effective_order(conn, tenant_id, card)
    for move in req.product_moves:
        if move.product_id in order:
            order.remove(move.product_id)
        order.insert(min(int(move.position), len(order)), move.product_id)
    repo.update_card(conn, tenant_id, card.id, {"product_order": order})


# ----------------------------------------------------------------------------------- named schedules


@dataclass(frozen=True)
class Segment:
    starting_at: datetime
    ending_before: datetime | None
    value: Any

    def to_doc(self) -> dict[str, Any]:
        return {
            "starting_at": format_timestamp(self.starting_at),
            "ending_before": None if self.ending_before is None else format_timestamp(self.ending_before),
            "value": self.value,
        }

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Segment:
        end = doc.get("ending_before")
        return cls(
            parse_timestamp(doc["starting_at"], "starting_at"),
            None if end is None else parse_timestamp(end, "ending_before"),
            doc.get("value"),
        )

    def covers(self, t: datetime) -> bool:
        return self.starting_at <= t and (self.ending_before is None or t < self.ending_before)

    def to_wire(self) -> dict[str, Any]:
        out = {"starting_at": format_timestamp(self.starting_at), "value": self.value}
        if self.ending_before is not None:
            out["ending_before"] = format_timestamp(self.ending_before)
        return out


def splice(segments: list[Segment], new: Segment) -> list[Segment]:
    """Put `new` over its range: segments it covers are cut back or split around it."""
    out = [new]
    for seg in segments:
        if not _ranges_overlap(seg.starting_at, seg.ending_before, new.starting_at, new.ending_before):
            out.append(seg)
            continue
        if seg.starting_at < new.starting_at:
            out.append(Segment(seg.starting_at, new.starting_at, seg.value))
        if new.ending_before is not None and (
            seg.ending_before is None or seg.ending_before > new.ending_before
        ):
            out.append(Segment(new.ending_before, seg.ending_before, seg.value))
    return sorted(out, key=lambda g: g.starting_at)


def named_schedule(
    conn: Connection, tenant_id: str, owner_type: str, owner_id: str, name: str, covering: datetime | None
) -> list[Segment]:
    row = repo.get_schedule(conn, tenant_id, owner_type, owner_id, name)
    segments = [Segment.of(d) for d in row.segments] if row else []
    if covering is not None:
        segments = [g for g in segments if g.covers(covering)][:1]
    return segments


def update_named_schedule(
    conn: Connection,
    tenant_id: str,
    owner_type: str,
    owner_id: str,
    name: str,
    new: Segment,
) -> None:
    """Caller has checked (and locked) the owner. Creates the schedule on first use."""
    if new.ending_before is not None and new.ending_before <= new.starting_at:
        raise BadRequest("ending_before: must be after starting_at")
    row = repo.get_schedule(conn, tenant_id, owner_type, owner_id, name)
    if row is None:
        repo.insert_schedule(
            conn,
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "owner_type": owner_type,
                "owner_id": owner_id,
                "schedule_name": name,
                "segments": [new.to_doc()],
            },
        )
        return
    merged = splice([Segment.of(d) for d in row.segments], new)
    repo.set_segments(conn, tenant_id, row.id, [g.to_doc() for g in merged])


def get_card_schedule(conn: Connection, tenant_id: str, req: s.GetNamedSchedule) -> list[Segment]:
    get(conn, tenant_id, req.rate_card_id)
    return named_schedule(
        conn, tenant_id, SCHEDULE_OWNER, req.rate_card_id, req.schedule_name, req.covering_date
    )


def update_card_schedule(conn: Connection, tenant_id: str, req: s.UpdateNamedSchedule) -> None:
    # Named schedules are card data, not pricing: archived cards may still carry them, so no get_writable.
    get(conn, tenant_id, req.rate_card_id, lock=True)
    segment = Segment(req.starting_at, req.ending_before, req.value)
    update_named_schedule(conn, tenant_id, SCHEDULE_OWNER, req.rate_card_id, req.schedule_name, segment)
