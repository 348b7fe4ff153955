"""The seat replay (tally.contracts.seats.replay) and the seat edits built on it (seats.updates), pure:
a stored subscription document in, seat segments and regenerated quantity updates out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tally.contracts.seats import updates
from tally.contracts.seats.replay import SEAT_BASED, SEAT_MARK, Segment, replay, timeline
from tally.errors import BadRequest

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)


def _sub(
    *events: dict[str, Any], seats: tuple[str, ...] = ("alice", "bob"), total: int = 3, **kw: Any
) -> dict[str, Any]:
    return {
        "id": "s",
        "starting_at": "2025-01-01T00:00:00Z",
        "initial_quantity": total,
        "quantity_management_mode": SEAT_BASED,
        "seat_config": {"seat_group_key": "user", "initial_seat_ids": list(seats)},
        "seat_events": list(events),
        **kw,
    }


def _ev(at: str, op: str, **kw: Any) -> dict[str, Any]:
    return {"starting_at": at, "op": op, **kw}


def test_adding_seats_takes_unassigned_ones_first_and_then_grows() -> None:
    # alice, bob + 1 unassigned = 3. FEB: carol takes the free seat, dave grows the total to 4.
    # MAR: bob leaves (4 - 1 = 3). APR: 2 more unassigned (3 + 2 = 5).
    s = _sub(
        _ev("2025-02-01T00:00:00Z", "add_seat_ids", seat_ids=["carol", "dave"]),
        _ev("2025-03-01T00:00:00Z", "remove_seat_ids", seat_ids=["bob"]),
        _ev("2025-04-01T00:00:00Z", "add_unassigned_seats", quantity=2),
    )
    segments, quantity_updates = replay(s, {}, "subscription")
    assert segments == [
        Segment(JAN, FEB, ("alice", "bob"), Decimal(3)),
        Segment(FEB, MAR, ("alice", "bob", "carol", "dave"), Decimal(4)),
        Segment(MAR, APR, ("alice", "carol", "dave"), Decimal(3)),
        Segment(APR, None, ("alice", "carol", "dave"), Decimal(5)),
    ]
    assert segments[-1].unassigned == Decimal(2)  # 5 - 3 assigned
    assert quantity_updates == [
        {"starting_at": "2025-02-01T00:00:00Z", "quantity": Decimal(4), SEAT_MARK: True},
        {"starting_at": "2025-03-01T00:00:00Z", "quantity": Decimal(3), SEAT_MARK: True},
        {"starting_at": "2025-04-01T00:00:00Z", "quantity": Decimal(5), SEAT_MARK: True},
    ]


def test_a_change_that_keeps_the_seats_adds_no_segment_or_update() -> None:
    # alice is already assigned; eve takes the one unassigned seat: the total stays 3.
    s = _sub(_ev("2025-02-01T00:00:00Z", "add_seat_ids", seat_ids=["alice", "eve", "eve"]))
    segments, quantity_updates = replay(s, {}, "subscription")
    assert segments == [
        Segment(JAN, FEB, ("alice", "bob"), Decimal(3)),
        Segment(FEB, None, ("alice", "bob", "eve"), Decimal(3)),
    ]
    assert quantity_updates == []


def test_events_replay_by_date_and_stop_at_the_end() -> None:
    # Stored out of order; the APR event is at the subscription's end, so it shows no segment.
    s = _sub(
        _ev("2025-04-01T00:00:00Z", "add_unassigned_seats", quantity=1),
        _ev("2025-02-01T00:00:00Z", "remove_unassigned_seats", quantity=1),
        ending_before="2025-04-01T00:00:00Z",
    )
    assert timeline(s) == [
        Segment(JAN, FEB, ("alice", "bob"), Decimal(3)),
        Segment(FEB, APR, ("alice", "bob"), Decimal(2)),  # 3 - 1
    ]


def test_quantity_updates_from_before_the_conversion_keep_changing_the_total() -> None:
    s = _sub(
        seats=(), total=2, quantity_updates=[{"starting_at": "2025-02-01T00:00:00Z", "quantity_delta": 3}]
    )
    segments, quantity_updates = replay(s, {}, "subscription")
    assert [g.total for g in segments] == [Decimal(2), Decimal(5)]  # 2 + 3
    assert quantity_updates == s["quantity_updates"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        # 3 seats, 2 assigned: removing 4 would make -1 (3 - 4); removing 2 leaves fewer than assigned
        (_ev("2025-02-01T00:00:00Z", "remove_unassigned_seats", quantity=4), "the quantity would become -1"),
        (_ev("2025-02-01T00:00:00Z", "remove_unassigned_seats", quantity=2), "only 1 seats are unassigned"),
    ],
)
def test_invalid_new_events_name_their_field(event: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=rf"^seat_updates\.x: {message}"):
        replay(_sub(event), {0: "seat_updates.x"}, "seat_updates")


def test_a_stored_event_made_invalid_is_reported_against_the_request() -> None:
    # Stored: MAR removes the one unassigned seat (3 -> 2). New: FEB adds carol (takes it), so at MAR
    # no seat is unassigned.
    stored = _ev("2025-03-01T00:00:00Z", "remove_unassigned_seats", quantity=1)
    new = _ev("2025-02-01T00:00:00Z", "add_seat_ids", seat_ids=["carol"])
    with pytest.raises(BadRequest, match=r"^seat_updates: makes the remove_unassigned_seats change stored"):
        replay(_sub(stored, new), {1: "seat_updates.add_seat_ids[0].seat_ids"}, "seat_updates")


def test_apply_updates_orders_removals_before_additions_and_regenerates_quantities() -> None:
    s = _sub()
    updates.apply_updates(
        s,
        {
            "add_seat_ids": [{"seat_ids": ["carol", "dave"], "starting_at": FEB}],
            "remove_seat_ids": [{"seat_ids": ["bob"], "starting_at": FEB}],
        },
        "seat_updates",
    )
    assert [e["op"] for e in s["seat_events"]] == ["remove_seat_ids", "add_seat_ids"]
    # FEB: bob leaves (3 - 1 = 2, 1 free), then carol takes the free seat and dave grows it to 3; each
    # event that moves the total writes an absolute update (the later one wins at the same instant)
    assert s["quantity_updates"] == [
        {"starting_at": "2025-02-01T00:00:00Z", "quantity": Decimal(2), SEAT_MARK: True},
        {"starting_at": "2025-02-01T00:00:00Z", "quantity": Decimal(3), SEAT_MARK: True},
    ]
    assert timeline(s)[-1] == Segment(FEB, None, ("alice", "carol", "dave"), Decimal(3))


@pytest.mark.parametrize(
    ("upd", "message"),
    [
        ({}, "seat_updates: at least one seat change is required"),
        (
            {"add_seat_ids": [{"seat_ids": [], "starting_at": FEB}]},
            r"add_seat_ids\[0\].seat_ids: at least one",
        ),
        (
            {"add_seat_ids": [{"seat_ids": ["a", "a"], "starting_at": FEB}]},
            r"seat_ids\[1\]: a is listed twice",
        ),
        ({"add_unassigned_seats": [{"quantity": 0, "starting_at": FEB}]}, "quantity: must be greater than 0"),
        (
            {"add_unassigned_seats": [{"quantity": Decimal("1.5"), "starting_at": FEB}]},
            "whole number of seats",
        ),
        (
            {"add_unassigned_seats": [{"quantity": 1, "starting_at": datetime(2024, 12, 1, tzinfo=UTC)}]},
            "within",
        ),
    ],
)
def test_apply_updates_refuses(upd: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        updates.apply_updates(_sub(), upd, "seat_updates")


def test_convert_makes_the_whole_quantity_unassigned_seats() -> None:
    s = {"starting_at": "2025-01-01T00:00:00Z", "initial_quantity": Decimal(4), "quantity_updates": []}
    updates.convert(s, {"seat_config": {"seat_group_key": "user"}}, "mode")
    assert s["quantity_management_mode"] == SEAT_BASED
    assert s["seat_config"] == {
        "seat_group_key": "user",
        "initial_seat_ids": [],
        "initial_unassigned_seats": Decimal(4),
    }
    with pytest.raises(BadRequest, match="mode: the subscription is already SEAT_BASED"):
        updates.convert(s, {"seat_config": {"seat_group_key": "user"}}, "mode")
    fractional = {"initial_quantity": Decimal("2.5"), "quantity_updates": []}
    with pytest.raises(BadRequest, match="whole quantities"):
        updates.convert(fractional, {"seat_config": {"seat_group_key": "user"}}, "mode")
