"""SEAT_BASED subscriptions (SPEC §5.8) through the official SDK in strict mode, on every backend: v2 edit
seat_updates and quantity_management_mode_update, getSubscriptionSeatsHistory (10 per page),
getSubscriptionQuantityHistory, seatBalances/list; bad bodies leave nothing written; seat changes bill
exactly like QUANTITY_ONLY quantity updates (test clock)."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.sdk.invoice_support import clock_now, fresh_month, set_clock
from tests.sdk.invoice_support import clock_server as clock_server
from tests.sdk.test_contracts import APR, FEB, JAN, JAN26, MAR, MISSING, USD, Catalog, iso, make_catalog


@pytest.fixture
def cat(client: Metronome, uid: str) -> Catalog:
    return make_catalog(client, uid)


def _seat_sub(cat: Catalog, ids: list[str], unassigned: int = 0, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"seat_group_key": "user_id", "initial_seat_ids": ids}
    if unassigned:
        config["initial_unassigned_seats"] = unassigned
    return {
        "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
        "collection_schedule": "ADVANCE",
        "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
        "quantity_management_mode": "SEAT_BASED",
        "seat_config": config,
        **extra,
    }


def _contract(client: Metronome, cat: Catalog, *subs: dict[str, Any], **terms: Any) -> tuple[str, list[str]]:
    cid = client.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=JAN,
        ending_before=JAN26,
        rate_card_id=cat.card,
        subscriptions=list(subs),
        **terms,
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    ids = [s.id for s in got.subscriptions or [] if s.id is not None]
    return cid, ids


def _seats(client: Metronome, cat: Catalog, cid: str, sid: str, **kw: Any) -> Any:
    return client.v1.contracts.get_subscription_seats_history(
        customer_id=cat.customer, contract_id=cid, subscription_id=sid, **kw
    )


def _segments(page: Any) -> list[tuple[datetime, datetime | None, list[str], int]]:
    return [(d.starting_at, d.ending_before, d.assigned_seat_ids, d.total_quantity) for d in page.data]


def _edit_seats(client: Metronome, cat: Catalog, cid: str, sid: str, **seat_updates: Any) -> str:
    return client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_subscriptions=[{"subscription_id": sid, "seat_updates": seat_updates}],
    ).data.id


def test_seat_updates_follow_sdk_semantics(client: Metronome, cat: Catalog) -> None:
    """alice, bob + 1 unassigned = 3 seats. FEB: add carol, dave -> carol takes the unassigned seat, dave
    grows the total to 4. MAR: remove bob and an unknown id -> 3. APR: +2 unassigned -> 5."""
    cid, (sid,) = _contract(client, cat, _seat_sub(cat, ["alice", "bob"], 1))
    sub = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ]
    assert sub.quantity_management_mode == "SEAT_BASED"
    assert sub.seat_config is not None
    assert sub.seat_config.seat_group_key == "user_id"
    _edit_seats(client, cat, cid, sid, add_seat_ids=[{"seat_ids": ["carol", "dave"], "starting_at": FEB}])
    _edit_seats(
        client,
        cat,
        cid,
        sid,
        remove_seat_ids=[{"seat_ids": ["bob", "zed"], "starting_at": MAR}],
        add_unassigned_seats=[{"quantity": 2, "starting_at": APR}],
    )
    page = _seats(client, cat, cid, sid)
    assert page.next_page is None
    assert _segments(page) == [
        (JAN, FEB, ["alice", "bob"], 3),  # 2 ids + 1 unassigned
        (FEB, MAR, ["alice", "bob", "carol", "dave"], 4),  # carol fills the free seat, dave adds one
        (MAR, APR, ["alice", "carol", "dave"], 3),  # bob leaves (4 - 1), zed is unknown: no-op
        (APR, JAN26, ["alice", "carol", "dave"], 5),  # 3 + 2 unassigned
    ]
    # A seat change is a quantity change: the schedule (current and future only; all of it is past
    # here) ends at 5 seats, on v2 and v1 alike.
    got = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ]
    assert [(q.quantity, q.starting_at, q.ending_before) for q in got.quantity_schedule] == [(5, APR, JAN26)]
    v1 = client.v1.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert [q.quantity for q in (v1.subscriptions or [])[0].quantity_schedule] == [5]
    # Quantity history: each change with the $30 (3000 cents) seat price; total = quantity x 3000.
    hist = client.v1.contracts.retrieve_subscription_quantity_history(
        customer_id=cat.customer, contract_id=cid, subscription_id=sid
    ).data
    assert hist.subscription_id == sid
    assert hist.fiat_credit_type_id == USD
    assert [
        (h.starting_at, [(d.quantity, d.unit_price, d.total) for d in h.data]) for h in hist.history or []
    ] == [
        (JAN, [(3, 3000, 9000)]),
        (FEB, [(4, 3000, 12000)]),
        (MAR, [(3, 3000, 9000)]),
        (APR, [(5, 3000, 15000)]),
    ]
    # Adding a seat that is already assigned changes nothing; a new one on a date with 2 unassigned seats
    # (APR onwards: 5 total, 3 assigned) fills one of them.
    _edit_seats(
        client,
        cat,
        cid,
        sid,
        add_seat_ids=[{"seat_ids": ["alice", "erin"], "starting_at": "2025-05-01T00:00:00Z"}],
    )
    last = _segments(_seats(client, cat, cid, sid))[-1]
    assert last[2:] == (["alice", "carol", "dave", "erin"], 5)
    # Edit history shows each seat change as sent, on the subscription it changed.
    hist_edits = client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
    seat_edits = [
        u.seat_updates for e in hist_edits for u in e.update_subscriptions or [] if u.seat_updates is not None
    ]
    assert [[a.seat_ids for a in s.add_seat_ids or []] for s in seat_edits] == [
        [["carol", "dave"]],
        [],
        [["alice", "erin"]],
    ]
    assert [[r.seat_ids for r in s.remove_seat_ids or []] for s in seat_edits] == [[], [["bob", "zed"]], []]


def test_removals_come_first_on_a_date(client: Metronome, cat: Catalog) -> None:
    """One request, one date: remove 1 unassigned seat, then add ids. 2 ids + 1 unassigned = 3; removing
    the unassigned seat leaves 2, then carol has no free seat and grows the total back to 3."""
    cid, (sid,) = _contract(client, cat, _seat_sub(cat, ["alice", "bob"], 1))
    _edit_seats(
        client,
        cat,
        cid,
        sid,
        add_seat_ids=[{"seat_ids": ["carol"], "starting_at": FEB}],
        remove_unassigned_seats=[{"quantity": 1, "starting_at": FEB}],
    )
    assert _segments(_seats(client, cat, cid, sid)) == [
        (JAN, FEB, ["alice", "bob"], 3),
        (FEB, JAN26, ["alice", "bob", "carol"], 3),
    ]


def test_seats_history_pages_of_ten_and_filters(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    """One unassigned seat added on the 1st of each month FEB 2025 .. JAN 2026: 13 segments (1 .. 13
    seats)."""
    cid, (sid,) = _contract(client, cat, _seat_sub(cat, ["s0"]))
    months = [add_months(JAN, k) for k in range(1, 13)]
    _edit_seats(
        client, cat, cid, sid, add_unassigned_seats=[{"quantity": 1, "starting_at": m} for m in months]
    )
    first = _seats(client, cat, cid, sid)
    assert [d.total_quantity for d in first.data] == list(range(1, 11))  # 10 per page by default
    assert first.next_page
    second = _seats(client, cat, cid, sid, cursor=first.next_page)
    assert [d.total_quantity for d in second.data] == [11, 12, 13]
    assert second.next_page is None
    assert second.data[-1].ending_before == JAN26
    small = _seats(client, cat, cid, sid, limit=4)
    assert [d.total_quantity for d in small.data] == [1, 2, 3, 4]
    # covering_date: the segment in force then (MAR 15 -> [MAR, APR) with 3 seats).
    cover = _seats(client, cat, cid, sid, covering_date=datetime(2025, 3, 15, tzinfo=UTC))
    assert _segments(cover) == [(MAR, APR, ["s0"], 3)]
    # starting_at / ending_before: segments overlapping [FEB 15, APR) -> FEB and MAR.
    window = _seats(client, cat, cid, sid, starting_at=datetime(2025, 2, 15, tzinfo=UTC), ending_before=APR)
    assert [d.starting_at for d in window.data] == [FEB, MAR]
    base = {"customer_id": cat.customer, "contract_id": cid, "subscription_id": sid}
    for body, needle in [
        ({**base, "limit": 11}, "limit"),
        ({**base, "limit": 0}, "limit"),
        ({**base, "covering_date": iso(MAR), "starting_at": iso(FEB)}, "covering_date"),
        ({**base, "cursor": "not-a-cursor"}, "cursor"),
    ]:
        r = http.post("/v1/contracts/getSubscriptionSeatsHistory", json=body)
        assert r.status_code == 400, r.text
        assert needle in r.json()["message"]
    r = http.post("/v1/contracts/getSubscriptionSeatsHistory", json={**base, "subscription_id": MISSING})
    assert r.status_code == 404, r.text


def test_bad_seat_updates_leave_nothing_written(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    cid, (sid, qsid) = _contract(
        client,
        cat,
        _seat_sub(cat, ["alice"], 1),
        {
            "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
            "collection_schedule": "ARREARS",
            "proration": {"is_prorated": True},
            "initial_quantity": 2,
        },
    )
    # A stored change: remove the one unassigned seat on MAR 1 (2 seats -> 1).
    _edit_seats(client, cat, cid, sid, remove_unassigned_seats=[{"quantity": 1, "starting_at": MAR}])

    def state() -> tuple[str, int]:
        got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
        hist = client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
        return got.model_dump_json(), len(hist)

    before = state()
    seats_before = _segments(_seats(client, cat, cid, sid))

    def seat(sub_id: str = sid, **u: Any) -> dict[str, Any]:
        return {
            "customer_id": cat.customer,
            "contract_id": cid,
            "update_subscriptions": [{"subscription_id": sub_id, "seat_updates": u}],
        }

    feb, jan = iso(FEB), iso(JAN)
    cases: list[tuple[dict[str, Any], str]] = [
        # 2 seats on FEB, 1 assigned: removing 3 would make -1 (2 - 3).
        (
            seat(remove_unassigned_seats=[{"quantity": 3, "starting_at": feb}]),
            "seat_updates.remove_unassigned_seats[0].quantity: the quantity would become -1",
        ),
        # 2 seats, 1 assigned: only 1 is unassigned.
        (
            seat(remove_unassigned_seats=[{"quantity": 2, "starting_at": feb}]),
            "remove_unassigned_seats[0].quantity: only 1 seats are unassigned",
        ),
        # A valid add next to an invalid removal: the whole edit is refused.
        (
            seat(
                add_seat_ids=[{"seat_ids": ["bob"], "starting_at": feb}],
                remove_unassigned_seats=[{"quantity": 5, "starting_at": feb}],
            ),
            "remove_unassigned_seats[0].quantity",
        ),
        # Removing the unassigned seat on FEB 1 leaves none for the stored MAR 1 removal.
        (
            seat(remove_unassigned_seats=[{"quantity": 1, "starting_at": feb}]),
            "update_subscriptions[0].seat_updates: makes the remove_unassigned_seats change stored for "
            "2025-03-01T00:00:00Z invalid",
        ),
        (
            seat(add_unassigned_seats=[{"quantity": 0, "starting_at": feb}]),
            "quantity: must be greater than 0",
        ),
        (seat(add_unassigned_seats=[{"quantity": 1.5, "starting_at": feb}]), "whole number"),
        (seat(add_seat_ids=[{"seat_ids": ["x", "x"], "starting_at": feb}]), "seat_ids[1]: x is listed twice"),
        (seat(add_seat_ids=[{"seat_ids": [], "starting_at": feb}]), "add_seat_ids[0].seat_ids"),
        (
            seat(add_seat_ids=[{"seat_ids": ["x"], "starting_at": "2024-06-01T00:00:00Z"}]),
            "add_seat_ids[0].starting_at: must fall within the subscription",
        ),
        (seat(add_seat_ids=[{"seat_ids": ["x"], "starting_at": "2025-02-01T00:30:00Z"}]), "hour boundary"),
        (seat(), "seat_updates: at least one seat change is required"),
        (seat(qsid, add_unassigned_seats=[{"quantity": 1, "starting_at": jan}]), "only for SEAT_BASED"),
        (
            {
                "customer_id": cat.customer,
                "contract_id": cid,
                "update_subscriptions": [
                    {"subscription_id": sid, "quantity_updates": [{"starting_at": feb, "quantity": 4}]}
                ],
            },
            "quantity_updates: not for SEAT_BASED subscriptions (use seat_updates)",
        ),
        (
            {
                "customer_id": cat.customer,
                "contract_id": cid,
                "update_subscriptions": [
                    {
                        "subscription_id": sid,
                        "quantity_management_mode_update": {
                            "quantity_management_mode": "SEAT_BASED",
                            "seat_config": {"seat_group_key": "user_id"},
                        },
                    }
                ],
            },
            "already SEAT_BASED",
        ),
    ]
    for body, needle in cases:
        r = http.post("/v2/contracts/edit", json=body)
        assert r.status_code == 400, (body, r.text)
        assert needle in r.json()["message"], (needle, r.json()["message"])
    assert state() == before
    assert _segments(_seats(client, cat, cid, sid)) == seats_before
    # The SDK raises the same 400 for the below-zero case.
    with pytest.raises(metronome.BadRequestError):
        _edit_seats(client, cat, cid, sid, remove_unassigned_seats=[{"quantity": 3, "starting_at": FEB}])
    # Seats history is for SEAT_BASED subscriptions; the quantity history works for both modes.
    r = http.post(
        "/v1/contracts/getSubscriptionSeatsHistory",
        json={"customer_id": cat.customer, "contract_id": cid, "subscription_id": qsid},
    )
    assert r.status_code == 400, r.text
    hist = client.v1.contracts.retrieve_subscription_quantity_history(
        customer_id=cat.customer, contract_id=cid, subscription_id=qsid
    ).data
    assert [(h.starting_at, [(d.quantity, d.total) for d in h.data]) for h in hist.history or []] == [
        (JAN, [(2, 6000)])  # 2 x 3000
    ]


def test_other_tenant_cannot_read_or_change_seats(
    client: Metronome, intruder: Metronome, cat: Catalog
) -> None:
    cid, (sid,) = _contract(client, cat, _seat_sub(cat, ["alice"]))
    ids = {"customer_id": cat.customer, "contract_id": cid}
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.get_subscription_seats_history(**ids, subscription_id=sid)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.retrieve_subscription_quantity_history(**ids, subscription_id=sid)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.list_seat_balances(**ids)
    with pytest.raises(metronome.NotFoundError):
        intruder.v2.contracts.edit(
            **ids,
            update_subscriptions=[
                {
                    "subscription_id": sid,
                    "seat_updates": {"add_seat_ids": [{"seat_ids": ["eve"], "starting_at": FEB}]},
                }
            ],
        )
    assert _segments(_seats(client, cat, cid, sid)) == [(JAN, JAN26, ["alice"], 1)]


def test_quantity_only_becomes_seat_based(client: Metronome, cat: Catalog) -> None:
    """QUANTITY_ONLY 4 seats, 6 from MAR. Converted: all of it becomes unassigned seats (no ids); adding
    alice, bob on FEB fills two of the 4; on MAR the quantity is 6 with the same 2 assigned."""
    cid, (sid,) = _contract(
        client,
        cat,
        {
            "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
            "collection_schedule": "ADVANCE",
            "proration": {"is_prorated": True},
            "initial_quantity": 4,
        },
    )
    client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_subscriptions=[
            {"subscription_id": sid, "quantity_updates": [{"starting_at": MAR, "quantity": 6}]}
        ],
    )
    client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_subscriptions=[
            {
                "subscription_id": sid,
                "quantity_management_mode_update": {
                    "quantity_management_mode": "SEAT_BASED",
                    "seat_config": {"seat_group_key": "user_id"},
                },
                "seat_updates": {"add_seat_ids": [{"seat_ids": ["alice", "bob"], "starting_at": FEB}]},
            }
        ],
    )
    got = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ]
    assert got.quantity_management_mode == "SEAT_BASED"
    assert got.seat_config is not None
    assert got.seat_config.seat_group_key == "user_id"
    assert _segments(_seats(client, cat, cid, sid)) == [
        (JAN, FEB, [], 4),
        (FEB, MAR, ["alice", "bob"], 4),  # 2 of the 4 unassigned seats filled: no growth
        (MAR, JAN26, ["alice", "bob"], 6),  # the earlier quantity update still applies
    ]


def test_seat_balances_are_the_seat_scoped_commits_and_credits(
    client: Metronome, cat: Catalog, http: httpx.Client
) -> None:
    """A credit pinned to user_id=alice (500) and a prepaid commit pinned to user_id=bob (800) are those
    seats' balances; an unscoped credit belongs to no seat; carol has none."""
    far = iso(JAN26)
    cid, (sid, qsid) = _contract(
        client,
        cat,
        _seat_sub(cat, ["alice", "bob", "carol"]),
        {
            "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
            "collection_schedule": "ARREARS",
            "proration": {"is_prorated": True},
            "initial_quantity": 1,
        },
        credits=[
            {
                "product_id": cat.fixed,
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [{"amount": 500, "starting_at": iso(JAN), "ending_before": far}]
                },
                "specifiers": [{"product_id": cat.usage, "presentation_group_values": {"user_id": "alice"}}],
            },
            {
                "product_id": cat.fixed,
                "priority": 2,
                "access_schedule": {
                    "schedule_items": [{"amount": 700, "starting_at": iso(JAN), "ending_before": far}]
                },
            },
        ],
        commits=[
            {
                "type": "PREPAID",
                "product_id": cat.fixed,
                "priority": 3,
                "access_schedule": {
                    "schedule_items": [{"amount": 800, "starting_at": iso(JAN), "ending_before": far}]
                },
                "specifiers": [{"pricing_group_values": {"user_id": "bob"}}],
            }
        ],
    )
    got = client.v1.contracts.list_seat_balances(
        customer_id=cat.customer, contract_id=cid, include_credits_and_commits=True, include_ledgers=True
    )
    assert got.pagination.seats_included == 3
    assert got.pagination.seats_available_for_next_page == 0
    assert got.pagination.next_page is None
    by = {d.seat_id: d for d in got.data}
    assert list(by) == ["alice", "bob", "carol"]
    assert [(b.credit_type_id, b.balance, b.starting_balance) for b in by["alice"].balances] == [
        (USD, 500, 500)
    ]
    assert [(b.credit_type_id, b.balance, b.starting_balance) for b in by["bob"].balances] == [
        (USD, 800, 800)
    ]
    assert by["carol"].balances == []
    (credit,) = by["alice"].credits or []
    assert (credit.balance, credit.start_date, credit.end_date) == (500, JAN, JAN26)
    assert [(e.type, e.amount) for e in credit.ledger_entries or []] == [("CREDIT_SEGMENT_START", 500)]
    (commit,) = by["bob"].commits or []
    assert commit.balance == 800
    assert by["alice"].commits == []
    # Pages of seats (by seat id), and filters.
    first = client.v1.contracts.list_seat_balances(customer_id=cat.customer, contract_id=cid, limit=2)
    assert [d.seat_id for d in first.data] == ["alice", "bob"]
    assert (first.pagination.seats_included, first.pagination.seats_available_for_next_page) == (2, 1)
    assert first.data[0].credits is None  # without include_credits_and_commits
    rest = client.v1.contracts.list_seat_balances(
        customer_id=cat.customer, contract_id=cid, limit=2, cursor=first.pagination.next_page or ""
    )
    assert [d.seat_id for d in rest.data] == ["carol"]
    assert rest.pagination.next_page is None
    only = client.v1.contracts.list_seat_balances(
        customer_id=cat.customer, contract_id=cid, seat_ids=["bob", "ghost"], skip_missing_seat_ids=True
    )
    assert [d.seat_id for d in only.data] == ["bob"]
    base = {"customer_id": cat.customer, "contract_id": cid}
    for body, needle in [
        ({**base, "seat_ids": ["ghost"]}, "seat_ids[0]"),
        ({**base, "subscription_ids": [qsid]}, "subscription_ids[0]"),
        ({**base, "subscription_ids": [MISSING]}, "subscription_ids[0]"),
        ({**base, "covering_date": iso(FEB), "starting_at": iso(JAN)}, "covering_date"),
    ]:
        r = http.post("/v1/contracts/seatBalances/list", json=body)
        assert r.status_code == 400, r.text
        assert needle in r.json()["message"]
    assert [
        d.seat_id for d in client.v1.contracts.list_seat_balances(**base, subscription_ids=[sid]).data
    ] == [
        "alice",
        "bob",
        "carol",
    ]


# ------------------------------------------------------------------------------- invoices (test clock)


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:
    return clock_server.sdk()


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:
    with clock_server.http() as c:
        yield c


def _sub_lines(inv: Any, product: str) -> list[tuple[float, float, float]]:
    return sorted(
        (float(li.quantity or 0), float(li.unit_price or 0), float(li.total))
        for li in inv.line_items
        if li.product_id == product
    )


def _usage_invoices(a: Metronome, customer: str) -> list[Any]:
    return [i for i in a.v1.customers.invoices.list(customer_id=customer) if i.type == "USAGE"]


def _scheduled_invoices(a: Metronome, customer: str) -> list[Any]:
    found = [i for i in a.v1.customers.invoices.list(customer_id=customer) if i.type == "SCHEDULED"]
    return sorted(found, key=lambda i: i.start_timestamp)


def _seat_catalog(a: Metronome, uid: str, start: datetime) -> tuple[str, str]:
    seat = a.v1.contracts.products.create(name=f"seat {uid}", type="SUBSCRIPTION").data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=seat,
        starting_at=start,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=3000,
        quantity=1,
        billing_frequency="MONTHLY",
    )
    return seat, card


def _uid(h: httpx.Client, tag: str) -> str:
    return tag + iso(clock_now(h)).replace(":", "").replace("-", "")[:13]


def test_spec_example_with_seat_ids(a: Metronome, h: httpx.Client) -> None:
    """SPEC §5.8 with seats, billed the way Metronome's "Set up seat-based billing" says (issue 12: charged
    at the beginning of the billing period; a seat added mid-period makes a new invoice, prorated for
    the days left). $30/seat/month ADVANCE, 10 seat ids, a 30-day month M starting the contract:
    - the SCHEDULED invoice issued at M's start: 10 x 3000 = 30,000, service dates [M, M+1);
    - on M+15 days (the 16th) 5 more seat ids with BILL_IMMEDIATELY, prorated: a new SCHEDULED invoice
      issued then, 5 x 3000 x 15/30 = 7,500, service dates [16th, M+1);
    - M's usage invoice (issued at M+1) carries M+1 in advance: 15 x 3000 = 45,000 (before the edit it
      showed 10 x 3000 = 30,000)."""
    t0 = fresh_month(h)
    month = t0
    while calendar.monthrange(month.year, month.month)[1] != 30:
        month = add_months(month, 1)
    if month != t0:
        set_clock(h, month + timedelta(days=1))
    nxt, after = add_months(month, 1), add_months(month, 2)
    uid = _uid(h, "st")
    seat, card = _seat_catalog(a, uid, month)
    customer = a.v1.customers.create(name=f"seats {uid}").data.id
    cid = a.v1.contracts.create(
        customer_id=customer,
        starting_at=month,
        rate_card_id=card,
        subscriptions=[
            {
                "subscription_rate": {"product_id": seat, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {
                    "seat_group_key": "user_id",
                    "initial_seat_ids": [f"u{i}" for i in range(10)],
                },
            }
        ],
    ).data.id
    sid = (a.v2.contracts.retrieve(customer_id=customer, contract_id=cid).data.subscriptions or [])[0].id
    assert sid is not None
    (first,) = _scheduled_invoices(a, customer)
    assert first.start_timestamp == month  # issued at the contract start
    assert _sub_lines(first, seat) == [(10, 3000, 30000)]
    (line,) = [li for li in first.line_items if li.product_id == seat]
    assert (line.starting_at, line.ending_before) == (month, nxt)
    (draft,) = _usage_invoices(a, customer)
    assert _sub_lines(draft, seat) == [(10, 3000, 30000)]  # M+1 in advance
    sixteenth = month + timedelta(days=15)
    a.v2.contracts.edit(
        customer_id=customer,
        contract_id=cid,
        update_subscriptions=[
            {
                "subscription_id": sid,
                "seat_updates": {
                    "add_seat_ids": [{"seat_ids": [f"n{i}" for i in range(5)], "starting_at": sixteenth}]
                },
            }
        ],
    )
    # 10 ids and no unassigned seat: 5 new ids grow the quantity by 5 -> a new invoice of 7,500.
    (_, increase_inv) = _scheduled_invoices(a, customer)
    assert increase_inv.start_timestamp == sixteenth
    assert _sub_lines(increase_inv, seat) == [(5, 3000, 7500)]
    (increase,) = [li for li in increase_inv.line_items if li.product_id == seat]
    assert increase.is_prorated is True
    assert increase.subscription_id == sid
    assert (increase.starting_at, increase.ending_before) == (sixteenth, nxt)
    assert increase_inv.total == 7500
    again = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert (again.status, again.total) == ("DRAFT", 45000)  # 15 x 3000 for M+1
    (line,) = [li for li in again.line_items if li.product_id == seat]
    assert (line.starting_at, line.ending_before) == (nxt, after)
    set_clock(h, nxt + timedelta(hours=24, minutes=1))
    final = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert (final.status, final.total) == ("FINALIZED", 45000)
    issued = [(i.status, i.total) for i in _scheduled_invoices(a, customer)]
    assert issued == [("FINALIZED", 30000), ("FINALIZED", 7500)]
    (following,) = [i for i in _usage_invoices(a, customer) if i.status == "DRAFT"]
    assert (following.start_timestamp, following.end_timestamp) == (nxt, after)
    assert _sub_lines(following, seat) == [(15, 3000, 45000)]  # M+2 in advance, 15 x 3000


def test_seat_changes_bill_like_quantity_updates(a: Metronome, h: httpx.Client) -> None:
    """Two contracts, same month, BILL_ON_NEXT_COLLECTION_DATE: seats (alice, bob + 2 unassigned = 4) vs
    QUANTITY_ONLY 4. Ten days before the month ends: +3 seat ids (2 fill the unassigned seats, 1 grows ->
    5) and +2 unassigned (-> 7), i.e. quantity 4 -> 7 like a quantity_delta of +3. The first month,
    4 x 3000 = 12,000, is on the SCHEDULED invoice issued at the start; the month's usage invoice (issued
    at the next collection date) carries the increase 3 x 3000 x 10/days, rounded to the cent, and the
    next month in advance, 7 x 3000 = 21,000."""
    t0 = fresh_month(h)
    t1 = add_months(t0, 1)
    days = (t1 - t0).days
    change = t1 - timedelta(days=10)
    uid = _uid(h, "eq")
    seat, card = _seat_catalog(a, uid, t0)
    common = {
        "subscription_rate": {"product_id": seat, "billing_frequency": "MONTHLY"},
        "collection_schedule": "ADVANCE",
        "proration": {"is_prorated": True, "invoice_behavior": "BILL_ON_NEXT_COLLECTION_DATE"},
    }
    seated = {
        **common,
        "quantity_management_mode": "SEAT_BASED",
        "seat_config": {
            "seat_group_key": "user_id",
            "initial_seat_ids": ["alice", "bob"],
            "initial_unassigned_seats": 2,
        },
    }
    totals = []
    for sub, update in (
        (
            seated,
            {
                "seat_updates": {
                    "add_seat_ids": [{"seat_ids": ["carol", "dave", "erin"], "starting_at": change}],
                    "add_unassigned_seats": [{"quantity": 2, "starting_at": change}],
                }
            },
        ),
        (
            {**common, "initial_quantity": 4},
            {"quantity_updates": [{"starting_at": change, "quantity_delta": 3}]},
        ),
    ):
        customer = a.v1.customers.create(name=f"eq {uid} {len(totals)}").data.id
        cid = a.v1.contracts.create(
            customer_id=customer, starting_at=t0, rate_card_id=card, subscriptions=[sub]
        ).data.id
        sid = (a.v2.contracts.retrieve(customer_id=customer, contract_id=cid).data.subscriptions or [])[0].id
        a.v2.contracts.edit(
            customer_id=customer, contract_id=cid, update_subscriptions=[{"subscription_id": sid, **update}]
        )
        (draft,) = _usage_invoices(a, customer)
        totals.append(_sub_lines(draft, seat))
        (first,) = _scheduled_invoices(a, customer)
        assert _sub_lines(first, seat) == [(4, 3000, 12000)]
    increase = float((Decimal(3 * 3000 * 10) / days).quantize(Decimal(1), ROUND_HALF_UP))
    assert totals[0] == totals[1] == sorted([(3, 3000, increase), (7, 3000, 21000)])
