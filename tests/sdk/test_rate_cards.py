"""Rate cards, rates, rate-card named schedules and product order through the official SDK in strict mode,
on every backend (SPEC §4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome
from sqlalchemy import Engine, select

from tally.db import uow
from tally.db.engine import make_engine
from tally.errors import BadRequest
from tally.models.tenants import tenants
from tally.rate_cards import rates as rate_service
from tally.rate_cards import service as card_service
from tally.settings import sqlite_url
from tests.conftest import Running

P = "/v1/contract-pricing/rate-cards"
USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
MISSING = "00000000-0000-0000-0000-000000000000"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _card(client: Metronome, name: str, **kw: Any) -> str:
    return client.v1.contracts.rate_cards.create(name=name, **kw).data.id


def _metric(client: Metronome, uid: str) -> str:
    return client.v1.billable_metrics.create(
        name=f"m-{uid}",
        aggregation_type="SUM",
        aggregation_key="n",
        property_filters=[{"name": "n", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    ).data.id


def _product(client: Metronome, name: str, kind: str = "USAGE", metric: str | None = None, **kw: Any) -> str:
    if kind == "USAGE":
        kw["billable_metric_id"] = metric
    return client.v1.contracts.products.create(name=name, type=kind, **kw).data.id  # type: ignore[arg-type]


@pytest.fixture
def usage(client: Metronome, uid: str) -> str:
    return _product(
        client, f"usage-{uid}", metric=_metric(client, uid), tags=["compute"], pricing_group_key=["region"]
    )


def _rates(client: Metronome, card: str, at: datetime, **kw: Any) -> list[Any]:
    return list(client.v1.contracts.rate_cards.rates.list(rate_card_id=card, at=at, **kw))


# ---------------------------------------------------------------------------------------- rate cards


def test_create_read_back(client: Metronome, uid: str) -> None:
    client.v1.custom_fields.add_key(entity="rate_card", key=f"tier-{uid}", enforce_uniqueness=False)
    unit = client.v1.pricing_units.create(name=f"tokens-{uid}").data.id
    card_id = _card(
        client,
        f"card-{uid}",
        description="list prices",
        credit_type_conversions=[{"custom_credit_type_id": unit, "fiat_per_custom_credit": 0.25}],
        aliases=[{"name": f"std-{uid}", "starting_at": JAN}, {"name": f"old-{uid}", "ending_before": FEB}],
        custom_fields={f"tier-{uid}": "gold"},
    )
    got = client.v1.contracts.rate_cards.retrieve(id=card_id).data
    assert got.id == card_id
    assert got.name == f"card-{uid}"
    assert got.description == "list prices"
    assert got.created_by
    assert got.fiat_credit_type is not None
    assert (got.fiat_credit_type.id, got.fiat_credit_type.name) == (USD, "USD (cents)")
    [conv] = got.credit_type_conversions or []
    assert conv.custom_credit_type.id == unit
    assert conv.custom_credit_type.name == f"tokens-{uid}"
    assert conv.fiat_per_custom_credit == "0.25"
    aliases = {a.name: a for a in got.aliases or []}
    assert aliases[f"std-{uid}"].starting_at == JAN
    assert aliases[f"std-{uid}"].ending_before is None
    assert aliases[f"old-{uid}"].ending_before == FEB
    assert got.custom_fields == {f"tier-{uid}": "gold"}


def test_minimal_card_defaults(client: Metronome, http: httpx.Client, uid: str) -> None:
    card_id = _card(client, f"min-{uid}")
    raw = http.post(f"{P}/get", json={"id": card_id}).json()["data"]
    assert raw["fiat_credit_type"] == {"id": USD, "name": "USD (cents)"}
    assert raw["aliases"] == []
    assert raw["credit_type_conversions"] == []
    assert raw["custom_fields"] == {}
    assert "description" not in raw
    assert raw["created_at"].endswith("Z")


def test_list_pages_and_archive(client: Metronome, http: httpx.Client, uid: str) -> None:
    ids = [_card(client, f"l{i}-{uid}") for i in range(5)]
    first = client.v1.contracts.rate_cards.list(limit=2)
    assert len(first.data) == 2
    assert first.next_page
    seen = [c.id for c in client.v1.contracts.rate_cards.list(limit=2)]
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)
    # The SDK sends no body at all by default.
    r = http.post(f"{P}/list?limit=100", content=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    client.v1.contracts.rate_cards.archive(id=ids[0])
    assert ids[0] not in {c.id for c in client.v1.contracts.rate_cards.list()}
    assert client.v1.contracts.rate_cards.retrieve(id=ids[0]).data.id == ids[0]
    with pytest.raises(metronome.BadRequestError):
        client.v1.contracts.rate_cards.update(rate_card_id=ids[0], name="nope")


def test_update_name_aliases_and_conversions(client: Metronome, uid: str) -> None:
    units = [client.v1.pricing_units.create(name=f"u{i}-{uid}").data.id for i in range(2)]
    card_id = _card(
        client,
        f"u-{uid}",
        aliases=[{"name": f"a-{uid}"}],
        credit_type_conversions=[{"custom_credit_type_id": units[0], "fiat_per_custom_credit": 2}],
    )
    client.v1.contracts.rate_cards.update(
        rate_card_id=card_id,
        name=f"renamed-{uid}",
        description="d2",
        aliases=[{"name": f"b-{uid}", "starting_at": FEB}],
        add_credit_type_conversions=[{"custom_credit_type_id": units[1], "fiat_per_custom_credit": 3}],
    )
    got = client.v1.contracts.rate_cards.retrieve(id=card_id).data
    assert (got.name, got.description) == (f"renamed-{uid}", "d2")
    assert [a.name for a in got.aliases or []] == [f"b-{uid}"]
    assert [
        (c.custom_credit_type.id, c.fiat_per_custom_credit) for c in got.credit_type_conversions or []
    ] == [
        (units[0], "2"),
        (units[1], "3"),
    ]
    # Conversions are add-only: an existing one cannot be modified.
    with pytest.raises(metronome.BadRequestError) as exc:
        client.v1.contracts.rate_cards.update(
            rate_card_id=card_id,
            add_credit_type_conversions=[{"custom_credit_type_id": units[0], "fiat_per_custom_credit": 9}],
        )
    assert "cannot be modified" in exc.value.body["message"]  # type: ignore[index]
    # Omitting aliases leaves them alone.
    client.v1.contracts.rate_cards.update(rate_card_id=card_id, name=f"again-{uid}")
    assert [a.name for a in client.v1.contracts.rate_cards.retrieve(id=card_id).data.aliases or []] == [
        f"b-{uid}"
    ]


@pytest.fixture
def db(server: Running) -> Iterator[Engine]:
    env = server.server.env
    url = env.get("TALLY_DATABASE_URL") or sqlite_url(Path(env["TALLY_DATA_DIR"]))
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()


def _tenant_id(engine: Engine, name: str) -> str:
    with uow.read(engine) as conn:
        return str(conn.execute(select(tenants.c.id).where(tenants.c.name == name)).scalar_one())


def test_alias_points_to_the_most_recently_assigned_card(client: Metronome, db: Engine, uid: str) -> None:
    alias = f"standard-{uid}"
    first = _card(client, f"v1-{uid}", aliases=[{"name": alias}])
    second = _card(client, f"v2-{uid}", aliases=[{"name": alias, "starting_at": MAR}])
    tenant = _tenant_id(db, "alpha")
    with uow.read(db) as conn:
        assert card_service.resolve_alias(conn, tenant, alias, FEB) == first
        assert card_service.resolve_alias(conn, tenant, alias, MAR) == second
        assert card_service.find_alias(conn, tenant, f"nobody-{uid}", MAR) is None
        with pytest.raises(BadRequest):
            card_service.resolve_alias(conn, tenant, f"nobody-{uid}", MAR)
        assert card_service.find_alias(conn, _tenant_id(db, "bravo"), alias, MAR) is None
    # Re-sending the first card's unchanged aliases does not make it the newest assignment...
    client.v1.contracts.rate_cards.update(rate_card_id=first, aliases=[{"name": alias}])
    with uow.read(db) as conn:
        assert card_service.resolve_alias(conn, tenant, alias, APR) == second
    # ...but an archived card no longer answers to its alias.
    client.v1.contracts.rate_cards.archive(id=second)
    with uow.read(db) as conn:
        assert card_service.resolve_alias(conn, tenant, alias, APR) == first


# --------------------------------------------------------------------------------------------- rates


def test_every_rate_type_via_add_rate(client: Metronome, uid: str, usage: str) -> None:
    rc = client.v1.contracts.rate_cards
    card = _card(client, f"types-{uid}")
    sub = _product(client, f"sub-{uid}", "SUBSCRIPTION")
    comp = _product(client, f"comp-{uid}", "COMPOSITE", composite_product_ids=[usage])
    flat = rc.rates.add(
        rate_card_id=card,
        product_id=usage,
        entitled=True,
        rate_type="FLAT",
        price=0.3,
        starting_at=JAN,
        commit_rate={"rate_type": "FLAT", "price": 0.2},
    ).data
    assert (flat.rate_type, flat.price) == ("FLAT", 0.3)
    assert flat.credit_type is not None
    assert flat.credit_type.id == USD
    assert flat.commit_rate is not None
    assert flat.commit_rate.price == 0.2
    tiered = rc.rates.add(
        rate_card_id=card,
        product_id=usage,
        entitled=True,
        rate_type="TIERED",
        starting_at=JAN,
        tiers=[{"size": 10000, "price": 1}, {"price": 0.5}],
        pricing_group_values={"region": "eu"},
    ).data
    assert [(t.size, t.price) for t in tiered.tiers or []] == [(10000, 1), (None, 0.5)]
    assert tiered.pricing_group_values == {"region": "eu"}
    subscription = rc.rates.add(
        rate_card_id=card,
        product_id=sub,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=5000,
        quantity=2,
        is_prorated=True,
        starting_at=JAN,
        billing_frequency="ANNUAL",
    ).data
    assert (subscription.quantity, subscription.is_prorated) == (2, True)
    monthly = rc.rates.add(
        rate_card_id=card,
        product_id=sub,
        entitled=False,
        rate_type="FLAT",
        price=999,
        starting_at=JAN,
        billing_frequency="MONTHLY",
    ).data
    assert monthly.price == 999
    pct = rc.rates.add(
        rate_card_id=card, product_id=comp, entitled=True, rate_type="PERCENTAGE", price=0.05, starting_at=JAN
    ).data
    assert (pct.rate_type, pct.price, pct.credit_type) == ("PERCENTAGE", 0.05, None)
    custom = rc.rates.add(
        rate_card_id=card,
        product_id=usage,
        entitled=True,
        rate_type="CUSTOM",
        starting_at=JAN,
        custom_rate={"engine": "x", "k": [1, 2]},
        pricing_group_values={"region": "us"},
    ).data
    assert custom.custom_rate == {"engine": "x", "k": [1, 2]}

    got = {(r.product_id, r.rate.rate_type, r.billing_frequency): r for r in _rates(client, card, FEB)}
    assert len(got) == 6
    assert got[(usage, "FLAT", None)].product_name == f"usage-{uid}"
    assert got[(usage, "FLAT", None)].product_tags == ["compute"]
    assert got[(usage, "TIERED", None)].pricing_group_values == {"region": "eu"}
    assert got[(sub, "SUBSCRIPTION", "ANNUAL")].rate.quantity == 2
    assert got[(sub, "FLAT", "MONTHLY")].entitled is False
    assert got[(comp, "PERCENTAGE", None)].rate.price == 0.05


def test_add_rates_batch_and_scheduled_price_change(
    client: Metronome, http: httpx.Client, uid: str, usage: str
) -> None:
    card = _card(client, f"sched-{uid}")
    out = client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            # Out of order on purpose: the later rate still closes the earlier open-ended one.
            {"product_id": usage, "entitled": True, "rate_type": "FLAT", "price": 12, "starting_at": MAR},
            {"product_id": usage, "entitled": True, "rate_type": "FLAT", "price": 10, "starting_at": JAN},
        ],
    )
    assert out.data.id == card
    assert _rates(client, card, datetime(2024, 12, 31, tzinfo=UTC)) == []
    [jan] = _rates(client, card, JAN)
    assert (jan.rate.price, jan.starting_at, jan.ending_before) == (10, JAN, MAR)
    [mar] = _rates(client, card, MAR)
    assert (mar.rate.price, mar.ending_before) == (12, None)
    # A further change via addRate closes the March rate at May.
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=usage, entitled=True, rate_type="FLAT", price=15, starting_at=MAY
    )
    assert [r.rate.price for r in _rates(client, card, APR)] == [12]
    assert [r.rate.price for r in _rates(client, card, MAY)] == [15]
    sched = client.v1.contracts.rate_cards.retrieve_rate_schedule(
        rate_card_id=card, starting_at=FEB, ending_before=APR
    )
    assert [(r.rate.price, r.starting_at, r.ending_before) for r in sched.data] == [
        (10, JAN, MAR),
        (12, MAR, MAY),
    ]
    assert sched.next_page is None
    everything = client.v1.contracts.rate_cards.retrieve_rate_schedule(rate_card_id=card, starting_at=JAN)
    assert [r.rate.price for r in everything.data] == [10, 12, 15]
    paged = http.post(
        f"{P}/getRateSchedule?limit=2", json={"rate_card_id": card, "starting_at": _iso(JAN)}
    ).json()
    assert len(paged["data"]) == 2
    assert paged["next_page"]
    rest = http.post(
        f"{P}/getRateSchedule?limit=2&next_page={paged['next_page']}",
        json={"rate_card_id": card, "starting_at": _iso(JAN)},
    ).json()
    assert [r["rate"]["price"] for r in rest["data"]] == [15]
    assert rest["next_page"] is None


def test_overlapping_rates_are_409_and_store_nothing(client: Metronome, uid: str, usage: str) -> None:
    rc = client.v1.contracts.rate_cards
    card = _card(client, f"ovl-{uid}")
    rc.rates.add(
        rate_card_id=card,
        product_id=usage,
        entitled=True,
        rate_type="FLAT",
        price=1,
        starting_at=FEB,
        ending_before=APR,
    )
    for start, end in [(MAR, None), (JAN, MAR), (FEB, APR), (JAN, None)]:
        extra: dict[str, Any] = {"ending_before": end} if end else {}
        with pytest.raises(metronome.ConflictError) as exc:
            rc.rates.add(
                rate_card_id=card,
                product_id=usage,
                entitled=True,
                rate_type="FLAT",
                price=2,
                starting_at=start,
                **extra,
            )
        assert "overlaps" in exc.value.body["message"]  # type: ignore[index]
    # A batch with one overlapping rate stores none of its rates.
    with pytest.raises(metronome.ConflictError):
        rc.rates.add_many(
            rate_card_id=card,
            rates=[
                {
                    "product_id": usage,
                    "entitled": True,
                    "rate_type": "FLAT",
                    "price": 3,
                    "starting_at": JAN,
                    "ending_before": FEB,
                },
                {"product_id": usage, "entitled": True, "rate_type": "FLAT", "price": 4, "starting_at": MAR},
            ],
        )
    assert [r.rate.price for r in rc.retrieve_rate_schedule(rate_card_id=card, starting_at=JAN).data] == [1]
    # Other pricing group values and adjacent ranges are separate slots.
    rc.rates.add(
        rate_card_id=card,
        product_id=usage,
        entitled=True,
        rate_type="FLAT",
        price=5,
        starting_at=FEB,
        pricing_group_values={"region": "eu"},
    )
    rc.rates.add(
        rate_card_id=card, product_id=usage, entitled=True, rate_type="FLAT", price=6, starting_at=APR
    )
    assert sorted(r.rate.price for r in _rates(client, card, APR)) == [5, 6]


def test_selectors(client: Metronome, uid: str, usage: str) -> None:
    card = _card(client, f"sel-{uid}")
    sub = _product(client, f"s-{uid}", "SUBSCRIPTION", tags=["seat"])
    base: dict[str, Any] = {"entitled": True, "rate_type": "FLAT", "starting_at": JAN}
    batch: list[Any] = [
        {**base, "product_id": usage, "price": 1, "pricing_group_values": {"region": "eu"}},
        {**base, "product_id": usage, "price": 2, "pricing_group_values": {"region": "us"}},
        {**base, "product_id": usage, "price": 3},
        {**base, "product_id": sub, "price": 100, "billing_frequency": "MONTHLY"},
        {**base, "product_id": sub, "price": 1000, "billing_frequency": "ANNUAL"},
    ]
    client.v1.contracts.rate_cards.rates.add_many(rate_card_id=card, rates=batch)

    def prices(*selectors: dict[str, Any]) -> list[float | None]:
        return sorted(r.rate.price for r in _rates(client, card, FEB, selectors=list(selectors)))

    assert prices() == [1, 2, 3, 100, 1000]
    assert prices({"product_id": sub}) == [100, 1000]
    assert prices({"product_tags": ["seat", "nothing"]}) == [100, 1000]
    assert prices({"pricing_group_values": {"region": "eu"}}) == [1]
    assert prices({"partial_pricing_group_values": {"region": "us"}}) == [2]
    assert prices({"billing_frequency": "ANNUAL"}) == [1000]
    assert prices({"product_id": usage, "billing_frequency": "ANNUAL"}) == []
    assert prices({"billing_frequency": "ANNUAL"}, {"pricing_group_values": {"region": "eu"}}) == [1, 1000]
    sched = client.v1.contracts.rate_cards.retrieve_rate_schedule(
        rate_card_id=card,
        starting_at=JAN,
        selectors=[{"product_id": usage, "partial_pricing_group_values": {"region": "eu"}}],
    )
    assert [r.rate.price for r in sched.data] == [1]


def test_custom_pricing_unit_rates(client: Metronome, uid: str, usage: str) -> None:
    unit = client.v1.pricing_units.create(name=f"cpu-{uid}").data.id
    stranger = client.v1.pricing_units.create(name=f"cpu2-{uid}").data.id
    card = _card(
        client,
        f"cpu-{uid}",
        credit_type_conversions=[{"custom_credit_type_id": unit, "fiat_per_custom_credit": 2}],
    )
    rate = client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=usage,
        entitled=True,
        rate_type="FLAT",
        price=1,
        starting_at=JAN,
        credit_type_id=unit,
    ).data
    assert rate.credit_type is not None
    assert (rate.credit_type.id, rate.credit_type.name) == (
        unit,
        f"cpu-{uid}",
    )
    for ct, fragment in [(stranger, "conversion on the card"), (USD, "pricing unit cannot change")]:
        with pytest.raises(metronome.BadRequestError) as exc:
            client.v1.contracts.rate_cards.rates.add(
                rate_card_id=card,
                product_id=usage,
                entitled=True,
                rate_type="FLAT",
                price=1,
                starting_at=MAR,
                credit_type_id=ct,
            )
        assert fragment in exc.value.body["message"]  # type: ignore[index]
    [row] = _rates(client, card, APR)
    assert row.rate.credit_type is not None
    assert row.rate.credit_type.id == unit


def test_get_rates_pages_in_product_order(client: Metronome, http: httpx.Client, uid: str) -> None:
    metric = _metric(client, uid)
    products = [_product(client, f"p{i}-{uid}", metric=metric) for i in range(3)]
    card = _card(client, f"order-{uid}")
    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            {"product_id": p, "entitled": True, "rate_type": "FLAT", "price": i, "starting_at": JAN}
            for i, p in enumerate(products)
        ],
    )

    def order() -> list[str]:
        page = client.v1.contracts.rate_cards.rates.list(rate_card_id=card, at=FEB, limit=1)
        assert page.next_page  # auto-pagination below follows it one rate at a time
        return [
            r.product_id
            for r in client.v1.contracts.rate_cards.rates.list(rate_card_id=card, at=FEB, limit=1)
        ]

    assert order() == products  # unordered products follow by id (creation order)
    client.v1.contracts.rate_cards.product_orders.set(
        rate_card_id=card, product_order=[products[2], products[0]]
    )
    assert order() == [products[2], products[0], products[1]]
    client.v1.contracts.rate_cards.product_orders.update(
        rate_card_id=card, product_moves=[{"product_id": products[1], "position": 0}]
    )
    assert order() == [products[1], products[2], products[0]]
    client.v1.contracts.rate_cards.product_orders.update(
        rate_card_id=card, product_moves=[{"product_id": products[1], "position": 99}]
    )
    assert order() == [products[2], products[0], products[1]]
    last = http.post(f"{P}/getRates?limit=3", json={"rate_card_id": card, "at": _iso(FEB)}).json()
    assert len(last["data"]) == 3
    assert last["next_page"] is None


def test_named_schedules_split_segments(client: Metronome, uid: str) -> None:
    ns = client.v1.contracts.named_schedules
    card = _card(client, f"ns-{uid}")
    assert ns.retrieve(rate_card_id=card, schedule_name="plan").data == []
    ns.update(rate_card_id=card, schedule_name="plan", starting_at=JAN, value={"tier": "a", "n": 1.5})
    ns.update(rate_card_id=card, schedule_name="plan", starting_at=MAR, ending_before=APR, value="b")
    ns.update(rate_card_id=card, schedule_name="other", starting_at=JAN, value=None)
    got = ns.retrieve(rate_card_id=card, schedule_name="plan").data
    assert [(g.starting_at, g.ending_before, g.value) for g in got] == [
        (JAN, MAR, {"tier": "a", "n": 1.5}),
        (MAR, APR, "b"),
        (APR, None, {"tier": "a", "n": 1.5}),
    ]
    [covering] = ns.retrieve(
        rate_card_id=card, schedule_name="plan", covering_date=datetime(2025, 3, 15, tzinfo=UTC)
    ).data
    assert covering.value == "b"
    assert (
        ns.retrieve(
            rate_card_id=card, schedule_name="plan", covering_date=datetime(2024, 6, 1, tzinfo=UTC)
        ).data
        == []
    )
    # A segment covering everything replaces all of it.
    ns.update(rate_card_id=card, schedule_name="plan", starting_at=JAN, value=[1, 2])
    assert [
        (g.starting_at, g.ending_before, g.value)
        for g in ns.retrieve(rate_card_id=card, schedule_name="plan").data
    ] == [(JAN, None, [1, 2])]


# ------------------------------------------------------------------------------------------ bad input


def _bad(http: httpx.Client, path: str, body: dict[str, Any], fragment: str, status: int = 400) -> None:
    r = http.post(f"{P}/{path}", json=body)
    assert r.status_code == status, (path, body, r.text)
    assert fragment in r.json()["message"], (path, body, r.json())


def test_bad_card_bodies_are_400_and_store_nothing(client: Metronome, http: httpx.Client, uid: str) -> None:
    unit = client.v1.pricing_units.create(name=f"bu-{uid}").data.id
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"fiat_credit_type_id": unit}, "not a fiat currency"),
        ({"fiat_credit_type_id": MISSING}, "not a fiat currency"),
        (
            {"credit_type_conversions": [{"custom_credit_type_id": USD, "fiat_per_custom_credit": 1}]},
            "custom pricing unit",
        ),
        (
            {"credit_type_conversions": [{"custom_credit_type_id": unit, "fiat_per_custom_credit": 0}]},
            "fiat_per_custom_credit",
        ),
        (
            {"credit_type_conversions": [{"custom_credit_type_id": unit, "fiat_per_custom_credit": 1}] * 2},
            "credit_type_conversions[1]",
        ),
        (
            {"aliases": [{"name": "x", "starting_at": _iso(FEB), "ending_before": _iso(JAN)}]},
            "aliases[0].ending_before",
        ),
        ({"aliases": [{"name": "x"}, {"name": "x", "starting_at": _iso(FEB)}]}, "overlaps"),
        ({"aliases": [{"starting_at": _iso(FEB)}]}, "aliases[0].name"),
        ({"custom_fields": {"undeclared": "x"}}, "undeclared"),
        ({"colour": "red"}, "colour"),
    ]
    for i, (fields, fragment) in enumerate(cases):
        body = {"name": f"bad{i}-{uid}"} | fields
        _bad(http, "create", {k: v for k, v in body.items() if v is not None}, fragment)
    names = {c.name for c in client.v1.contracts.rate_cards.list()}
    assert not any(n.startswith("bad") and n.endswith(uid) for n in names)

    card = _card(client, f"keep-{uid}", aliases=[{"name": f"k-{uid}"}])
    update_cases: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name"),
        ({"aliases": [{"name": "x", "starting_at": _iso(FEB), "ending_before": _iso(FEB)}]}, "ending_before"),
        (
            {
                "add_credit_type_conversions": [
                    {"custom_credit_type_id": MISSING, "fiat_per_custom_credit": 1}
                ]
            },
            "custom pricing unit",
        ),
        (
            {"name": "ok", "add_credit_type_conversions": [{"custom_credit_type_id": unit}]},
            "fiat_per_custom_credit",
        ),
    ]
    for fields, fragment in update_cases:
        _bad(http, "update", {"rate_card_id": card} | fields, fragment)
    got = client.v1.contracts.rate_cards.retrieve(id=card).data
    assert got.name == f"keep-{uid}"
    assert [a.name for a in got.aliases or []] == [f"k-{uid}"]
    assert got.credit_type_conversions == []
    _bad(http, "get", {}, "id")
    _bad(http, "list?limit=0", {}, "limit")
    _bad(http, "list", {"filter": 1}, "filter")
    _bad(http, "list?next_page=%25%25", {}, "next_page")


def test_bad_rate_bodies_are_400_and_store_nothing(
    client: Metronome, http: httpx.Client, uid: str, usage: str
) -> None:
    card = _card(client, f"badrates-{uid}")
    fixed = _product(client, f"fx-{uid}", "FIXED")
    sub = _product(client, f"sb-{uid}", "SUBSCRIPTION")
    comp = _product(client, f"cp-{uid}", "COMPOSITE", composite_product_ids=[usage])
    gone = _product(client, f"gone-{uid}", "SUBSCRIPTION")
    client.v1.contracts.products.archive(product_id=gone)
    ok = {"product_id": usage, "entitled": True, "rate_type": "FLAT", "price": 1, "starting_at": _iso(JAN)}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"price": None}, "price: required"),
        ({"price": -1}, "price: must be ≥ 0"),
        ({"price": "abc"}, "price"),
        ({"entitled": None}, "entitled"),
        ({"rate_type": "VOLUME"}, "rate_type"),
        ({"starting_at": "2025-01-01T00:30:00Z"}, "starting_at: must be on an hour boundary"),
        ({"ending_before": _iso(JAN)}, "ending_before: must be after starting_at"),
        ({"starting_at": "yesterday"}, "starting_at"),
        ({"product_id": fixed}, "FIXED products cannot go on a rate card"),
        ({"product_id": gone}, "archived"),
        ({"tiers": [{"price": 1}]}, "tiers: not allowed"),
        ({"rate_type": "TIERED", "price": None}, "tiers: required"),
        (
            {"rate_type": "TIERED", "price": None, "tiers": [{"price": 1}, {"size": 5, "price": 1}]},
            "only the last tier",
        ),
        ({"rate_type": "TIERED", "price": None, "tiers": [{"size": 0, "price": 1}]}, "size"),
        ({"rate_type": "PERCENTAGE", "product_id": comp, "price": 1.5}, "fraction between 0 and 1"),
        ({"rate_type": "PERCENTAGE"}, "USAGE product takes"),
        ({"rate_type": "FLAT", "product_id": comp}, "COMPOSITE product takes"),
        ({"rate_type": "SUBSCRIPTION", "product_id": sub, "is_prorated": False}, "is_prorated: must be true"),
        ({"rate_type": "SUBSCRIPTION", "product_id": sub, "quantity": -1}, "quantity: must be ≥ 0"),
        ({"quantity": 2}, "quantity: only allowed"),
        ({"product_id": sub}, "billing_frequency: required"),
        ({"billing_frequency": "MONTHLY"}, "billing_frequency: only allowed for SUBSCRIPTION"),
        ({"billing_frequency": "DAILY", "product_id": sub}, "billing_frequency"),
        ({"pricing_group_values": {"zone": "eu"}}, "pricing_group_values: keys must match"),
        ({"rate_type": "CUSTOM", "price": None}, "custom_rate: required"),
        ({"custom_rate": {"a": 1}}, "custom_rate: only allowed"),
        ({"credit_type_id": MISSING}, "credit_type_id"),
        ({"commit_rate": {"rate_type": "FLAT", "price": -2}}, "commit_rate.price"),
        ({"commit_rate": {"rate_type": "SUBSCRIPTION", "price": 2}}, "commit_rate.rate_type"),
        ({"commit_rate": {"price": 2}}, "commit_rate.rate_type"),
        ({"colour": "red"}, "colour"),
    ]
    for fields, fragment in cases:
        rate = {k: v for k, v in (ok | fields).items() if v is not None}
        _bad(http, "addRate", {"rate_card_id": card} | rate, fragment)
        # The same rate inside a batch, after a good one: nothing from the batch is stored.
        _bad(http, "addRates", {"rate_card_id": card, "rates": [ok, rate]}, fragment.split(":")[0])
    msg = http.post(f"{P}/addRates", json={"rate_card_id": card, "rates": [ok, ok | {"price": -1}]}).json()[
        "message"
    ]
    assert msg.startswith("rates[1].price")
    _bad(http, "addRates", {"rate_card_id": card, "rates": []}, "rates")
    _bad(http, "addRate", {"rate_card_id": card} | ok | {"product_id": MISSING}, "not found", 404)
    _bad(http, "addRate", {"rate_card_id": MISSING} | ok, "not found", 404)
    assert (
        client.v1.contracts.rate_cards.retrieve_rate_schedule(rate_card_id=card, starting_at=JAN).data == []
    )

    _bad(http, "getRates", {"rate_card_id": card}, "at")
    _bad(
        http,
        "getRates",
        {"rate_card_id": card, "at": _iso(JAN), "selectors": [{"product_tags": "x"}]},
        "product_tags",
    )
    _bad(http, "getRates?limit=101", {"rate_card_id": card, "at": _iso(JAN)}, "limit")
    _bad(http, "getRates?next_page=abc", {"rate_card_id": card, "at": _iso(JAN)}, "next_page")
    _bad(
        http,
        "getRateSchedule",
        {"rate_card_id": card, "starting_at": _iso(FEB), "ending_before": _iso(JAN)},
        "ending_before",
    )
    _bad(http, "getRateSchedule", {"rate_card_id": card}, "starting_at")


def test_bad_order_and_schedule_bodies(client: Metronome, http: httpx.Client, uid: str, usage: str) -> None:
    card = _card(client, f"bo-{uid}")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("setRateCardProductsOrder", {"product_order": [usage, usage]}, "listed twice"),
        ("setRateCardProductsOrder", {"product_order": [MISSING]}, "not found"),
        ("setRateCardProductsOrder", {}, "product_order"),
        ("moveRateCardProducts", {"product_moves": [{"product_id": usage, "position": 1.5}]}, "whole number"),
        ("moveRateCardProducts", {"product_moves": [{"product_id": usage, "position": -1}]}, "whole number"),
        ("moveRateCardProducts", {"product_moves": [{"product_id": usage}]}, "position"),
        ("moveRateCardProducts", {"product_moves": []}, "product_moves"),
        ("updateNamedSchedule", {"schedule_name": "s", "starting_at": _iso(FEB)}, "value"),
        (
            "updateNamedSchedule",
            {"schedule_name": "s", "starting_at": _iso(FEB), "ending_before": _iso(JAN), "value": 1},
            "ending_before",
        ),
        ("updateNamedSchedule", {"schedule_name": "", "starting_at": _iso(FEB), "value": 1}, "schedule_name"),
        ("getNamedSchedule", {"schedule_name": "s", "covering_date": "soon"}, "covering_date"),
    ]
    for path, body, fragment in cases:
        _bad(http, path, {"rate_card_id": card} | body, fragment)
    assert client.v1.contracts.named_schedules.retrieve(rate_card_id=card, schedule_name="s").data == []
    raw = http.post(f"{P}/get", json={"id": card}).json()["data"]
    assert raw["id"] == card


def test_other_tenant_gets_404(
    client: Metronome, intruder: Metronome, http: httpx.Client, uid: str, usage: str
) -> None:
    card = _card(client, f"iso-{uid}")
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=usage, entitled=True, rate_type="FLAT", price=1, starting_at=JAN
    )
    irc = intruder.v1.contracts.rate_cards
    calls: list[Any] = [
        lambda: irc.retrieve(id=card),
        lambda: irc.update(rate_card_id=card, name="x"),
        lambda: irc.archive(id=card),
        lambda: irc.rates.add(
            rate_card_id=card, product_id=usage, entitled=True, rate_type="FLAT", price=1, starting_at=FEB
        ),
        lambda: irc.rates.add_many(
            rate_card_id=card,
            rates=[
                {"product_id": usage, "entitled": True, "rate_type": "FLAT", "price": 1, "starting_at": FEB}
            ],
        ),
        lambda: irc.rates.list(rate_card_id=card, at=FEB),
        lambda: irc.retrieve_rate_schedule(rate_card_id=card, starting_at=JAN),
        lambda: irc.product_orders.set(rate_card_id=card, product_order=[]),
        lambda: irc.product_orders.update(
            rate_card_id=card, product_moves=[{"product_id": usage, "position": 0}]
        ),
        lambda: intruder.v1.contracts.named_schedules.retrieve(rate_card_id=card, schedule_name="s"),
        lambda: intruder.v1.contracts.named_schedules.update(
            rate_card_id=card, schedule_name="s", starting_at=JAN, value=1
        ),
    ]
    for call in calls:
        with pytest.raises(metronome.NotFoundError):
            call()
    assert card not in {c.id for c in irc.list()}
    # Nor can the intruder price the other tenant's product on its own card.
    own = intruder.v1.contracts.rate_cards.create(name=f"own-{uid}").data.id
    with pytest.raises(metronome.NotFoundError):
        irc.rates.add(
            rate_card_id=own, product_id=usage, entitled=True, rate_type="FLAT", price=1, starting_at=JAN
        )
    got = client.v1.contracts.rate_cards.retrieve(id=card).data
    assert got.name == f"iso-{uid}"
    assert [r.rate.price for r in _rates(client, card, FEB)] == [1]


def test_rates_for_card_snapshots(client: Metronome, db: Engine, uid: str, usage: str) -> None:
    card = _card(client, f"snap-{uid}")
    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            {"product_id": usage, "entitled": True, "rate_type": "FLAT", "price": 0.1, "starting_at": JAN},
            {
                "product_id": usage,
                "entitled": False,
                "rate_type": "TIERED",
                "starting_at": MAR,
                "tiers": [{"size": 10, "price": 2.5}, {"price": 1}],
            },
        ],
    )
    with uow.read(db) as conn:
        rows = rate_service.rates_for_card(conn, _tenant_id(db, "alpha"), card)
    assert [(r.rate_type, r.price, r.starting_at, r.ending_before) for r in rows] == [
        ("FLAT", Decimal("0.1"), JAN, MAR),
        ("TIERED", None, MAR, None),
    ]
    assert rows[1].tiers[0].price == Decimal("2.5")
    assert rows[1].tiers[0].size == Decimal(10)
    assert rows[1].to_rating().tiers[1].size is None
