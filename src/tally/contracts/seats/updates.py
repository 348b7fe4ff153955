"""The seat changes of a v2 edit (SPEC §5.8), validated and written to the stored subscription:
`quantity_management_mode_update` (QUANTITY_ONLY -> SEAT_BASED) and `seat_updates`."""

from __future__ import annotations

from decimal import Decimal

from tally.contracts.seats.replay import SEAT_BASED, Doc, replay, timestamp
from tally.errors import BadRequest
from tally.kit.api import hour_aligned
from tally.wire import format_timestamp

# Within one request, on the same date: removals first, then additions (docs: helper notes, Seats).
OPS = ("remove_seat_ids", "remove_unassigned_seats", "add_seat_ids", "add_unassigned_seats")


def _whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


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
    start = timestamp(s["starting_at"])
    end = timestamp(s["ending_before"]) if s.get("ending_before") else None
    events = list(s.get("seat_events") or [])
    fields: dict[int, str] = {}
    for op in OPS:
        for j, item in enumerate(upd.get(op) or []):
            where = f"{field}.{op}[{j}]"
            at = hour_aligned(timestamp(item["starting_at"]), f"{where}.starting_at")
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
    _, s["quantity_updates"] = replay(s, fields, field)
