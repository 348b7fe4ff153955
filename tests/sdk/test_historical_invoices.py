"""Historical invoices (`createHistoricalInvoices`, SPEC §5.9) through the official SDK in strict mode, on
every backend. USD cents.

Contract from 2024-01-01 to 2024-06-01, monthly, invoice_generation_starting_at 2024-03-01 (so tally
invoices March, April and May itself), a free credit of 100.
  Compute  FLAT 10 (product converts /1000, which an imported quantity skips)
  Storage  TIERED first 100 at 2, then 1

January import (DAY breakdowns):
  Compute  5                                   ->  5 x 10                  =  50
  Storage  60 on Jan 1 + 70 on Jan 2 = 130      ->  100 x 2 + 30 x 1        = 230
  charges 280, credit -100                                           total = 180
  Day slices: Jan 1: 50 + 60 x 2 = 170 - 100 credit = 70; Jan 2: 180 - 70 = 110; Jan 3: 0.
February import (same request, sees January's draw-down):
  Compute  3 -> 30; the credit is spent                               total =  30
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import metronome
import pytest
from metronome import Metronome

from tests.conftest import Running

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
JAN, FEB, MAR = (datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3))
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def sdk(server: Running) -> Metronome:
    return server.sdk()


@pytest.fixture(scope="module")
def catalog(sdk: Metronome) -> dict[str, str]:
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    metric = sdk.v1.billable_metrics.create(
        name=f"hist-{tag}",
        aggregation_type="SUM",
        aggregation_key="units",
        property_filters=[{"name": "units", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    ).data.id
    compute = sdk.v1.contracts.products.create(
        name=f"Compute {tag}",
        type="USAGE",
        billable_metric_id=metric,
        pricing_group_key=["region"],
        quantity_conversion={"conversion_factor": 1000, "operation": "DIVIDE"},
    ).data.id
    storage = sdk.v1.contracts.products.create(
        name=f"Storage {tag}", type="USAGE", billable_metric_id=metric
    ).data.id
    stray = sdk.v1.contracts.products.create(
        name=f"Stray {tag}", type="USAGE", billable_metric_id=metric
    ).data.id
    fixed = sdk.v1.contracts.products.create(name=f"Credit {tag}", type="FIXED").data.id
    card = sdk.v1.contracts.rate_cards.create(name=f"hist-card-{tag}").data.id
    sdk.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=compute, entitled=True, rate_type="FLAT", price=10, starting_at=JAN
    )
    sdk.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=storage,
        entitled=True,
        rate_type="TIERED",
        tiers=[{"size": 100, "price": 2}, {"price": 1}],
        starting_at=JAN,
    )
    return {"compute": compute, "storage": storage, "stray": stray, "fixed": fixed, "card": card}


def _contract(sdk: Metronome, cat: dict[str, str], uid: str, generation_start: bool = True) -> dict[str, str]:
    customer = sdk.v1.customers.create(name=f"hist-{uid}").data.id
    schedule: dict[str, Any] = {"frequency": "MONTHLY"}
    if generation_start:
        schedule["invoice_generation_starting_at"] = MAR
    contract = sdk.v1.contracts.create(
        customer_id=customer,
        rate_card_id=cat["card"],
        starting_at=JAN,
        ending_before=datetime(2024, 6, 1, tzinfo=UTC),
        usage_statement_schedule=schedule,  # type: ignore[arg-type]
        credits=[
            {
                "product_id": cat["fixed"],
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 100, "starting_at": JAN, "ending_before": datetime(2030, 1, 1, tzinfo=UTC)}
                    ]
                },
            }
        ],
    ).data.id
    credit = (sdk.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data.credits or [])[0].id
    return {"customer": customer, "contract": contract, "credit": credit}


def _january(c: dict[str, str], cat: dict[str, str]) -> dict[str, Any]:
    return {
        "customer_id": c["customer"],
        "contract_id": c["contract"],
        "credit_type_id": USD,
        "inclusive_start_date": JAN,
        "exclusive_end_date": FEB,
        "issue_date": FEB + 2 * DAY,
        "breakdown_granularity": "DAY",
        "custom_fields": {"source": "legacy"},
        "usage_line_items": [
            {
                "product_id": cat["compute"],
                "inclusive_start_date": JAN,
                "exclusive_end_date": FEB,
                "quantity": 5,
                "pricing_group_values": {"region": "us"},
            },
            {
                "product_id": cat["storage"],
                "inclusive_start_date": JAN,
                "exclusive_end_date": FEB,
                "subtotals_with_quantity": [
                    {"inclusive_start_date": JAN, "exclusive_end_date": JAN + DAY, "quantity": 60},
                    {"inclusive_start_date": JAN + DAY, "exclusive_end_date": JAN + 2 * DAY, "quantity": 70},
                ],
            },
        ],
    }


def _february(c: dict[str, str], cat: dict[str, str]) -> dict[str, Any]:
    return {
        "customer_id": c["customer"],
        "contract_id": c["contract"],
        "credit_type_id": USD,
        "inclusive_start_date": FEB,
        "exclusive_end_date": MAR,
        "issue_date": MAR,
        "usage_line_items": [
            {
                "product_id": cat["compute"],
                "inclusive_start_date": FEB,
                "exclusive_end_date": MAR,
                "quantity": 3,
            }
        ],
    }


def _lines(inv: Any) -> dict[tuple[str, str | None], Any]:
    return {
        (li.type, li.commit_id if li.type == "applied_commit_or_credit" else li.product_id): li
        for li in inv.line_items
    }


def _credit_left(sdk: Metronome, c: dict[str, str]) -> float | None:
    for b in sdk.v1.contracts.list_balances(
        customer_id=c["customer"], include_balance=True, include_contract_balances=True
    ):
        if b.id == c["credit"]:
            return b.balance
    raise AssertionError("credit not listed")


def _before_generation(sdk: Metronome, c: dict[str, str]) -> list[Any]:
    """The customer's invoices for periods before invoice_generation_starting_at (historical only)."""
    return [i for i in sdk.v1.customers.invoices.list(customer_id=c["customer"]) if i.start_timestamp < MAR]


def _check_january(inv: Any, c: dict[str, str], cat: dict[str, str]) -> None:
    assert (inv.type, inv.status, inv.contract_id) == ("USAGE", "FINALIZED", c["contract"])
    assert (inv.start_timestamp, inv.end_timestamp, inv.issued_at) == (JAN, FEB, FEB + 2 * DAY)
    lines = _lines(inv)
    compute = lines[("usage", cat["compute"])]
    # 5 billed as given (the product's /1000 conversion is not applied): 5 x 10 = 50
    assert (compute.quantity, compute.unit_price, compute.total) == (5, 10, 50)
    assert compute.pricing_group_values == {"region": "us"}
    storage = lines[("usage", cat["storage"])]
    assert (storage.quantity, storage.total) == (130, 230)  # 100 x 2 + 30 x 1
    assert lines[("applied_commit_or_credit", c["credit"])].total == -100
    assert (inv.subtotal, inv.total) == (280, 180)
    assert inv.custom_fields == {"source": "legacy"}


def test_preview_then_import(sdk: Metronome, catalog: dict[str, str], uid: str) -> None:
    c = _contract(sdk, catalog, uid)
    # invoice_generation_starting_at is honoured: tally's own usage invoices start in March.
    own = sdk.v1.customers.invoices.list(customer_id=c["customer"], type="USAGE")
    assert sorted(i.start_timestamp for i in own) == [datetime(2024, m, 1, tzinfo=UTC) for m in (3, 4, 5)]
    body = [_january(c, catalog), _february(c, catalog)]

    jan, feb = sdk.v1.contracts.create_historical_invoices(invoices=body, preview=True).data
    _check_january(jan, c, catalog)
    # February saw January's draw-down: the credit is spent, 3 x 10 = 30 is due.
    assert (feb.total, feb.subtotal) == (30, 30)
    assert ("applied_commit_or_credit", c["credit"]) not in _lines(feb)
    # A preview writes nothing: no invoice, the credit untouched.
    assert _before_generation(sdk, c) == []
    assert _credit_left(sdk, c) == 100

    jan, feb = sdk.v1.contracts.create_historical_invoices(invoices=body, preview=False).data
    _check_january(jan, c, catalog)
    assert feb.total == 30
    listed = {i.id: i for i in _before_generation(sdk, c)}
    assert set(listed) == {jan.id, feb.id}
    got = sdk.v1.customers.invoices.retrieve(customer_id=c["customer"], invoice_id=jan.id).data
    assert got.model_dump() == jan.model_dump()
    assert jan.id in {i.id for i in sdk.v1.customers.invoices.list(customer_id=c["customer"], type="USAGE")}
    assert jan.id not in {
        i.id for i in sdk.v1.customers.invoices.list(customer_id=c["customer"], type="SCHEDULED")
    }
    assert _credit_left(sdk, c) == 0  # 100 - 100 drawn by January

    # Breakdowns slice the imported quantities by day: 70 + 110 + 0 = 180.
    slices = [
        b
        for b in sdk.v1.customers.invoices.list_breakdowns(
            customer_id=c["customer"], starting_on=JAN, ending_before=JAN + 3 * DAY, window_size="DAY"
        )
        if b.id == jan.id
    ]
    assert [(b.breakdown_start_timestamp, b.total) for b in slices] == [
        (JAN, 70),
        (JAN + DAY, 110),
        (JAN + 2 * DAY, 0),
    ]
    day2 = _lines(slices[1])
    assert (day2[("usage", catalog["storage"])].quantity, day2[("usage", catalog["storage"])].total) == (
        70,
        110,
    )

    # The same period again, or one of tally's own periods: 409, nothing written.
    with pytest.raises(metronome.ConflictError, match="historical invoice"):
        sdk.v1.contracts.create_historical_invoices(invoices=[_january(c, catalog)], preview=False)
    march = {**_february(c, catalog), "inclusive_start_date": FEB + 14 * DAY, "exclusive_end_date": MAR + DAY}
    march["usage_line_items"] = []
    with pytest.raises(metronome.ConflictError, match="invoice_generation_starting_at"):
        sdk.v1.contracts.create_historical_invoices(invoices=[march], preview=True)
    assert len(_before_generation(sdk, c)) == 2

    # Void gives the credit back; regenerate rates the same quantities again as a new invoice.
    sdk.v1.invoices.void(id=jan.id)
    assert _credit_left(sdk, c) == 100
    again = sdk.v1.invoices.regenerate(id=jan.id).data.id
    regenerated = sdk.v1.customers.invoices.retrieve(customer_id=c["customer"], invoice_id=again).data
    _check_january(regenerated, c, catalog)
    assert regenerated.regenerated_from_invoice_id == jan.id
    assert _credit_left(sdk, c) == 0
    with pytest.raises(metronome.ConflictError):
        sdk.v1.invoices.regenerate(id=jan.id)
    statuses = sorted((i.id, i.status) for i in _before_generation(sdk, c))
    assert statuses == sorted([(jan.id, "VOID"), (again, "FINALIZED"), (feb.id, "FINALIZED")])


def test_contract_without_a_generation_start_takes_no_import(
    sdk: Metronome, catalog: dict[str, str], uid: str
) -> None:
    c = _contract(sdk, catalog, uid, generation_start=False)
    with pytest.raises(metronome.ConflictError, match="usage period"):
        sdk.v1.contracts.create_historical_invoices(invoices=[_january(c, catalog)], preview=False)
    assert _credit_left(sdk, c) == 100


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with `path` (dot-separated keys and list indexes) set, or removed if value is ..."""
    out = {**doc}
    node: Any = out
    keys = path.split(".")
    for k in keys[:-1]:
        key: Any = int(k) if k.isdigit() else k
        node[key] = dict(node[key]) if isinstance(node[key], dict) else list(node[key])
        node = node[key]
    last: Any = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


BAD: list[tuple[str, Any, str]] = [
    ("credit_type_id", "6f1f3c1e-0000-4000-8000-000000000000", "credit_type_id"),
    ("inclusive_start_date", datetime(2023, 12, 1, tzinfo=UTC), "outside the contract"),
    ("inclusive_start_date", JAN + timedelta(minutes=30), "hour boundary"),
    ("exclusive_end_date", JAN, "must be after"),
    ("usage_line_items.0.exclusive_end_date", MAR, "outside the invoice period"),
    ("usage_line_items.0.product_id", "STRAY", "rate card"),
    ("usage_line_items.0.pricing_group_values", {"zone": "eu"}, "pricing_group_values"),
    ("usage_line_items.0.quantity", -1, "quantity"),
    ("usage_line_items.0.quantity", ..., "exactly one"),
    ("usage_line_items.1.quantity", 5, "exactly one"),
    (
        "usage_line_items.1.subtotals_with_quantity.0.exclusive_end_date",
        JAN + DAY + timedelta(hours=1),
        "one DAY window",
    ),
    (
        "usage_line_items.1.subtotals_with_quantity.1.inclusive_start_date",
        JAN + timedelta(hours=23),
        "overlaps",
    ),
    ("usage_line_items.0.metadata", "x", "metadata"),
    ("breakdown_granularity", "WEEK", "breakdown_granularity"),
]


@pytest.mark.parametrize(("path", "value", "match"), BAD, ids=[f"{b[0]}={b[2]}" for b in BAD])
def test_bad_input_is_400_and_writes_nothing(
    sdk: Metronome, catalog: dict[str, str], uid: str, path: str, value: Any, match: str
) -> None:
    c = _contract(sdk, catalog, uid)
    bad = _set(_january(c, catalog), path, catalog["stray"] if value == "STRAY" else value)
    for preview in (True, False):
        with pytest.raises(metronome.BadRequestError, match=match):
            sdk.v1.contracts.create_historical_invoices(invoices=[bad], preview=preview)
    assert _before_generation(sdk, c) == []
    assert _credit_left(sdk, c) == 100


def test_a_bad_invoice_fails_the_whole_request(sdk: Metronome, catalog: dict[str, str], uid: str) -> None:
    c = _contract(sdk, catalog, uid)
    good = _january(c, catalog)
    with pytest.raises(metronome.BadRequestError, match=r"invoices\[1\].credit_type_id"):
        sdk.v1.contracts.create_historical_invoices(
            invoices=[good, {**_february(c, catalog), "credit_type_id": "nope"}], preview=False
        )
    with pytest.raises(metronome.BadRequestError, match=r"overlaps invoices\[0\]"):
        sdk.v1.contracts.create_historical_invoices(invoices=[good, good], preview=False)
    assert _before_generation(sdk, c) == []
    assert _credit_left(sdk, c) == 100


def test_unknown_or_foreign_contract_is_404(
    sdk: Metronome, server: Running, catalog: dict[str, str], uid: str
) -> None:
    c = _contract(sdk, catalog, uid)
    other = sdk.v1.customers.create(name=f"other-{uid}").data.id
    with pytest.raises(metronome.NotFoundError):
        sdk.v1.contracts.create_historical_invoices(
            invoices=[{**_january(c, catalog), "customer_id": other}], preview=False
        )
    with pytest.raises(metronome.NotFoundError):
        server.sdk(server.token_b).v1.contracts.create_historical_invoices(
            invoices=[_january(c, catalog)], preview=True
        )
    assert _before_generation(sdk, c) == []
