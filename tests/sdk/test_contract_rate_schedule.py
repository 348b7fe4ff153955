"""getContractRateSchedule through the official SDK in strict mode, on every backend (SPEC §4.2, §5.2, §5.3):
a contract's entitled rates at an instant, with overrides applied; selectors, pages, bad bodies, 404s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome
from metronome.types.v1.contract_retrieve_rate_schedule_response import Data

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
JUN = datetime(2025, 6, 1, tzinfo=UTC)
MISSING = "00000000-0000-0000-0000-000000000000"
PATH = "/v1/contracts/getContractRateSchedule"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def mid(t: datetime) -> datetime:
    return t.replace(day=15)


@dataclass
class World:
    customer: str
    card: str
    compute: str  # tag ai; FLAT 10, 12 from APR
    storage: str  # tag ai; TIERED 4 (first 100) then 2
    egress: str  # FLAT 5
    premium: str  # FLAT 50, not entitled on the card
    hidden: str  # FLAT 7, not entitled and never overridden
    contract: str


def _world(client: Metronome, uid: str) -> World:
    metric = client.v1.billable_metrics.create(
        name=f"m-{uid}",
        aggregation_type="SUM",
        aggregation_key="n",
        property_filters=[{"name": "n", "exists": True}],
    ).data.id

    def product(name: str, tags: list[str]) -> str:
        return client.v1.contracts.products.create(
            name=f"{name}-{uid}", type="USAGE", billable_metric_id=metric, tags=tags
        ).data.id

    compute, storage = product("compute", ["ai"]), product("storage", ["ai"])
    egress, premium, hidden = product("egress", []), product("premium", []), product("hidden", [])
    card = client.v1.contracts.rate_cards.create(name=f"card-{uid}").data.id

    def flat(pid: str, price: int, start: datetime, entitled: bool = True) -> dict[str, Any]:
        return {
            "product_id": pid,
            "entitled": entitled,
            "rate_type": "FLAT",
            "price": price,
            "starting_at": start,
        }

    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            flat(compute, 10, JAN),
            flat(compute, 12, APR),  # a scheduled price change: closes the first rate at APR
            {
                "product_id": storage,
                "entitled": True,
                "rate_type": "TIERED",
                "tiers": [{"price": 4, "size": 100}, {"price": 2}],
                "starting_at": JAN,
            },
            flat(egress, 5, JAN),
            flat(premium, 50, JAN, entitled=False),
            flat(hidden, 7, JAN, entitled=False),
        ],
    )
    client.v1.contracts.rate_cards.product_orders.set(
        rate_card_id=card, product_order=[compute, storage, egress, premium, hidden]
    )
    customer = client.v1.customers.create(name=f"cust-{uid}").data.id
    contract = client.v1.contracts.create(
        customer_id=customer,
        starting_at=JAN,
        rate_card_id=card,
        overrides=[
            # 20% off everything tagged ai, ending mid-way
            {
                "starting_at": JAN,
                "ending_before": MAY,
                "type": "MULTIPLIER",
                "multiplier": 0.8,
                "applicable_product_tags": ["ai"],
            },
            # a smaller discount on compute that outlives it (LOWEST_MULTIPLIER: 0.8 wins while both apply)
            {
                "starting_at": JAN,
                "ending_before": JUN,
                "type": "MULTIPLIER",
                "multiplier": 0.9,
                "product_id": compute,
            },
            {
                "starting_at": FEB,
                "type": "OVERWRITE",
                "product_id": egress,
                "overwrite_rate": {"rate_type": "FLAT", "price": 3},
            },
            # grants premium from MAR, at half price
            {
                "starting_at": MAR,
                "type": "MULTIPLIER",
                "multiplier": 0.5,
                "entitled": True,
                "product_id": premium,
            },
        ],
    ).data.id
    return World(customer, card, compute, storage, egress, premium, hidden, contract)


@pytest.fixture
def world(client: Metronome, uid: str) -> World:
    return _world(client, uid)


def _at(client: Metronome, w: World, at: datetime | None = None, **kw: Any) -> list[Data]:
    args: dict[str, Any] = {"customer_id": w.customer, "contract_id": w.contract, **kw}
    if at is not None:
        args["at"] = at
    return client.v1.contracts.retrieve_rate_schedule(**args).data


Row = tuple[str, Any, Any, datetime, datetime | None]


def _summary(w: World, data: list[Data]) -> list[Row]:
    """(product, list price or tiers, override price or tiers, segment start, segment end)."""
    names = {
        w.compute: "compute",
        w.storage: "storage",
        w.egress: "egress",
        w.premium: "premium",
        w.hidden: "hidden",
    }

    def price(rate: Any) -> Any:
        if rate is None:
            return None
        if rate.tiers:
            return [
                (Decimal(str(t.price)), None if t.size is None else Decimal(str(t.size))) for t in rate.tiers
            ]
        return Decimal(str(rate.price))

    return [
        (names[d.product_id], price(d.list_rate), price(d.override_rate), d.starting_at, d.ending_before)
        for d in data
    ]


D = Decimal
STORAGE_LIST = [(D(4), D(100)), (D(2), None)]
STORAGE_OFF = [(D("3.2"), D(100)), (D("1.6"), None)]


def test_rates_at_several_instants(client: Metronome, world: World) -> None:
    w = world
    assert _summary(w, _at(client, w, mid(JAN))) == [
        ("compute", D(10), D(8), JAN, APR),
        ("storage", STORAGE_LIST, STORAGE_OFF, JAN, MAY),
        ("egress", D(5), None, JAN, FEB),  # the overwrite starts at FEB
    ]
    assert _summary(w, _at(client, w, mid(FEB))) == [
        ("compute", D(10), D(8), JAN, APR),
        ("storage", STORAGE_LIST, STORAGE_OFF, JAN, MAY),
        ("egress", D(5), D(3), FEB, None),
    ]
    # premium becomes entitled by override at MAR
    assert _summary(w, _at(client, w, MAR)) == [
        ("compute", D(10), D(8), JAN, APR),
        ("storage", STORAGE_LIST, STORAGE_OFF, JAN, MAY),
        ("egress", D(5), D(3), FEB, None),
        ("premium", D(50), D(25), MAR, None),
    ]
    # the scheduled price change: the multiplier tracks the new list price
    assert _summary(w, _at(client, w, mid(APR)))[:2] == [
        ("compute", D(12), D("9.6"), APR, MAY),
        ("storage", STORAGE_LIST, STORAGE_OFF, JAN, MAY),
    ]
    # the tag discount has ended: compute falls back to its own 0.9, storage to the list rate
    assert _summary(w, _at(client, w, mid(MAY))) == [
        ("compute", D(12), D("10.8"), MAY, JUN),
        ("storage", STORAGE_LIST, None, MAY, None),
        ("egress", D(5), D(3), FEB, None),
        ("premium", D(50), D(25), MAR, None),
    ]
    # default `at` is now (after every override on compute ended)
    now = _summary(w, _at(client, w))
    assert now[0] == ("compute", D(12), None, JUN, None)


def test_entries_carry_product_and_card_fields(client: Metronome, world: World) -> None:
    w = world
    first, _, egress, premium = _at(client, w, MAR)
    assert first.rate_card_id == w.card
    assert first.product_tags == ["ai"]
    assert first.product_name.startswith("compute-")
    assert first.product_custom_fields == {}
    assert first.entitled is True
    assert first.list_rate.rate_type == "FLAT"
    assert first.list_rate.credit_type is not None
    assert first.list_rate.credit_type.name == "USD (cents)"
    assert first.override_rate is not None
    assert first.override_rate.rate_type == "FLAT"
    assert egress.override_rate is not None
    assert egress.override_rate.rate_type == "FLAT"
    assert egress.override_rate.credit_type is not None
    assert egress.override_rate.credit_type.id == first.list_rate.credit_type.id
    assert premium.entitled is True  # not entitled on the card; the override grants it
    assert w.hidden not in {d.product_id for d in _at(client, w, MAR)}


def test_selectors(client: Metronome, world: World) -> None:
    w = world

    def ids(*selectors: dict[str, Any]) -> list[str]:
        return [d.product_id for d in _at(client, w, MAR, selectors=list(selectors))]

    assert ids({"product_tags": ["ai"]}) == [w.compute, w.storage]
    assert ids({"product_id": w.egress}) == [w.egress]
    assert ids({"product_id": w.egress}, {"product_id": w.premium}) == [w.egress, w.premium]
    assert ids({"product_id": w.hidden}) == []  # selected, but not entitled
    assert ids({"product_tags": ["ai"], "product_id": w.egress}) == []  # AND within a selector
    assert ids({"billing_frequency": "MONTHLY"}) == []


def test_pages(client: Metronome, world: World) -> None:
    w = world
    first = client.v1.contracts.retrieve_rate_schedule(
        customer_id=w.customer, contract_id=w.contract, at=MAR, limit=3
    )
    assert [d.product_id for d in first.data] == [w.compute, w.storage, w.egress]
    assert first.next_page
    second = client.v1.contracts.retrieve_rate_schedule(
        customer_id=w.customer, contract_id=w.contract, at=MAR, limit=3, next_page=first.next_page
    )
    assert [d.product_id for d in second.data] == [w.premium]
    assert second.next_page is None
    exact = client.v1.contracts.retrieve_rate_schedule(
        customer_id=w.customer, contract_id=w.contract, at=MAR, limit=4
    )
    assert len(exact.data) == 4
    assert exact.next_page is None


def test_explicit_tiered_override(client: Metronome, world: World) -> None:
    """EXPLICIT: a tiered override on 5 units falls through to a priority-2 multiplier (SPEC §5.3)."""
    w = world
    contract = client.v1.contracts.create(
        customer_id=w.customer,
        starting_at=JAN,
        rate_card_id=w.card,
        multiplier_override_prioritization="EXPLICIT",
        overrides=[
            {
                "starting_at": JAN,
                "type": "TIERED",
                "tiers": [{"size": 5, "multiplier": 0.9}],
                "priority": 1,
                "product_id": w.egress,
            },
            {
                "starting_at": JAN,
                "type": "MULTIPLIER",
                "multiplier": 0.95,
                "priority": 2,
                "product_id": w.egress,
            },
        ],
    ).data.id
    [got] = client.v1.contracts.retrieve_rate_schedule(
        customer_id=w.customer, contract_id=contract, at=FEB, selectors=[{"product_id": w.egress}]
    ).data
    assert got.override_rate is not None
    assert got.override_rate.rate_type == "TIERED"
    tiers = [(D(str(t.price)), t.size) for t in got.override_rate.tiers or []]
    assert tiers == [(D("4.5"), 5), (D("4.75"), None)]


def test_contract_without_overrides_lists_the_card(client: Metronome, world: World) -> None:
    w = world
    plain = client.v1.contracts.create(customer_id=w.customer, starting_at=JAN, rate_card_id=w.card).data.id
    data = client.v1.contracts.retrieve_rate_schedule(customer_id=w.customer, contract_id=plain, at=FEB).data
    assert [(d.product_id, d.override_rate) for d in data] == [
        (w.compute, None),
        (w.storage, None),
        (w.egress, None),
    ]


def test_bad_bodies_are_400(http: httpx.Client, world: World) -> None:
    w = world
    base = {"customer_id": w.customer, "contract_id": w.contract}
    cases: list[tuple[dict[str, Any], dict[str, str], str]] = [
        ({"customer_id": w.customer}, {}, "contract_id"),
        ({"contract_id": w.contract}, {}, "customer_id"),
        ({**base, "at": "soon"}, {}, "at"),
        ({**base, "selectors": {"product_id": w.egress}}, {}, "selectors"),
        ({**base, "selectors": [{"billing_frequency": "DAILY"}]}, {}, "billing_frequency"),
        ({**base, "selectors": [{"product_tags": "ai"}]}, {}, "product_tags"),
        ({**base, "selectors": [{"colour": "red"}]}, {}, "colour"),
        ({**base, "unknown": 1}, {}, "unknown"),
        (base, {"limit": "0"}, "limit"),
        (base, {"limit": "many"}, "limit"),
        (base, {"next_page": "%%%"}, "next_page"),
    ]
    for body, query, fragment in cases:
        r = http.post(PATH, json=body, params=query)
        assert r.status_code == 400, (body, query, r.text)
        assert fragment in r.json()["message"], (body, query, r.json())


def test_unknown_contract_404(client: Metronome, intruder: Metronome, world: World, uid: str) -> None:
    w = world
    other = client.v1.customers.create(name=f"other-{uid}").data.id
    calls: list[Any] = [
        lambda: client.v1.contracts.retrieve_rate_schedule(customer_id=w.customer, contract_id=MISSING),
        lambda: client.v1.contracts.retrieve_rate_schedule(customer_id=other, contract_id=w.contract),
        lambda: intruder.v1.contracts.retrieve_rate_schedule(customer_id=w.customer, contract_id=w.contract),
    ]
    for call in calls:
        with pytest.raises(metronome.NotFoundError):
            call()
