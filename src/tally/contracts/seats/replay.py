"""The seat replay, pure: a stored subscription's seat events (and the quantity updates from before it
became seat-based) replayed by date into seat segments and the regenerated `quantity_updates`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tally.errors import BadRequest
from tally.money.context import ZERO, add, sub
from tally.wire import format_timestamp, parse_timestamp

Doc = dict[str, Any]

SEAT_BASED = "SEAT_BASED"
SEAT_MARK = "seat_change"  # on quantity_updates entries derived from seat events


def timestamp(value: Any) -> datetime:
    """A stored instant (a datetime, or its RFC 3339 text)."""
    return value if isinstance(value, datetime) else parse_timestamp(value, "timestamp")


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


def replay(s: Doc, fields: dict[int, str], fallback: str) -> tuple[list[Segment], list[Doc]]:
    """Replay `s`'s seat events (and unmarked quantity updates) by date. Returns the seat segments and the
    regenerated `quantity_updates`. `fields` names the request field of newly added seat events (by index
    in `seat_events`); a stored event made invalid by a new one is reported against `fallback`."""
    start = timestamp(s["starting_at"])
    end = timestamp(s["ending_before"]) if s.get("ending_before") else None
    cfg = s.get("seat_config") or {}
    assigned: list[str] = list(cfg.get("initial_seat_ids") or [])
    qty = Decimal(s["initial_quantity"])
    tagged: list[tuple[datetime, int | None, Doc]] = [
        (max(timestamp(u["starting_at"]), start), None, u)
        for u in s.get("quantity_updates") or []
        if not u.get(SEAT_MARK)
    ]
    tagged += [
        (max(timestamp(e["starting_at"]), start), i, e) for i, e in enumerate(s.get("seat_events") or [])
    ]
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
    return replay(s, {}, "subscription")[0]
