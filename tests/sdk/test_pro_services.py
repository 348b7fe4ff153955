"""Professional-services invoices (`scheduleProServicesInvoice`, SPEC §5.17) through the official SDK in
strict mode, on every backend. Figures in USD cents, rounded to whole cents half-up:

  Design  (term: unit_price 12.5, quantity 10, max_amount 100)
  Support (term: unit_price 200,  quantity 1,  max_amount 1000)

  first invoice   Design  quantity 3 x term price 12.5   = 37.5 -> 38
                  Design  quantity 2 x override 7.25     = 14.5 -> 15
                  Support amount 250                     =         250
                  total                                            303
  Design billed so far 38 + 15 = 53; 100 - 53 = 47 left under max_amount.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import metronome
import pytest
from metronome import Metronome


def _month() -> datetime:
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _setup(client: Metronome, uid: str) -> dict[str, Any]:
    design = client.v1.contracts.products.create(name=f"Design {uid}", type="PROFESSIONAL_SERVICE").data.id
    support = client.v1.contracts.products.create(name=f"Support {uid}", type="PROFESSIONAL_SERVICE").data.id
    card = client.v1.contracts.rate_cards.create(name=f"ps-card-{uid}").data.id
    customer = client.v1.customers.create(name=f"ps-{uid}").data.id
    contract = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=card,
        starting_at=_month(),
        net_payment_terms_days=30,
        professional_services=[
            {"product_id": design, "unit_price": 12.5, "quantity": 10, "max_amount": 100},
            {"product_id": support, "unit_price": 200, "quantity": 1, "max_amount": 1000},
        ],
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data
    by_product = {p.product_id: p.id for p in got.professional_services or []}
    return {
        "customer": customer,
        "contract": contract,
        "design": by_product[design],
        "support": by_product[support],
        "design_product": design,
        "support_product": support,
    }


def _pro_invoices(client: Metronome, customer: str) -> list[Any]:
    return [
        i
        for i in client.v1.customers.invoices.list(customer_id=customer, type="SCHEDULED")
        if any(li.professional_service_id for li in i.line_items)
    ]


def _issue(client: Metronome, s: dict[str, Any], *lines: dict[str, Any], at: datetime | None = None) -> Any:
    (inv,) = client.v1.contracts.schedule_pro_services_invoice(
        customer_id=s["customer"],
        contract_id=s["contract"],
        issued_at=at or _month() + timedelta(days=3),
        line_items=list(lines),
    ).data
    return inv


def test_issue_bills_each_line_and_shows_in_the_invoice_list(client: Metronome, uid: str) -> None:
    s = _setup(client, uid)
    issued_at = _month() + timedelta(days=3)
    (inv,) = client.v1.contracts.schedule_pro_services_invoice(
        customer_id=s["customer"],
        contract_id=s["contract"],
        issued_at=issued_at,
        netsuite_invoice_header_start=_month(),
        netsuite_invoice_header_end=_month() + timedelta(days=28),
        line_items=[
            {"professional_service_id": s["design"], "quantity": 3},
            {
                "professional_service_id": s["design"],
                "quantity": 2,
                "unit_price": 7.25,
                "metadata": "phase 2",
            },
            {
                "professional_service_id": s["support"],
                "amount": 250,
                "netsuite_invoice_billing_start": _month(),
                "netsuite_invoice_billing_end": _month() + timedelta(days=7),
            },
        ],
    ).data
    assert (inv.type, inv.status, inv.contract_id) == ("SCHEDULED", "FINALIZED", s["contract"])
    assert inv.issued_at == inv.start_timestamp == inv.end_timestamp == issued_at
    assert inv.credit_type.name == "USD (cents)"
    assert inv.net_payment_terms_days == 30
    d1, d2, sup = inv.line_items
    # 3 x 12.5 = 37.5 -> 38; 2 x 7.25 = 14.5 -> 15; 250 as given
    assert (d1.quantity, d1.unit_price, d1.total) == (3, 12.5, 38)
    assert (d2.quantity, d2.unit_price, d2.total, d2.metadata) == (2, 7.25, 15, "phase 2")
    assert (sup.quantity, sup.unit_price, sup.total) == (None, None, 250)
    assert sup.netsuite_invoice_billing_start == _month()
    assert sup.netsuite_invoice_billing_end == _month() + timedelta(days=7)
    assert [li.professional_service_id for li in inv.line_items] == [s["design"], s["design"], s["support"]]
    assert [li.product_id for li in inv.line_items] == [s["design_product"]] * 2 + [s["support_product"]]
    assert {li.type for li in inv.line_items} == {"scheduled"}
    assert {li.product_type for li in inv.line_items} == {"FixedProductListItem"}
    assert d1.name == f"Design {uid}"
    assert inv.subtotal == inv.total == 303  # 38 + 15 + 250

    listed = _pro_invoices(client, s["customer"])
    assert [i.id for i in listed] == [inv.id]
    got = client.v1.customers.invoices.retrieve(customer_id=s["customer"], invoice_id=inv.id).data
    assert got.model_dump() == inv.model_dump()
    usage_only = client.v1.customers.invoices.list(customer_id=s["customer"], type="USAGE")
    assert inv.id not in [i.id for i in usage_only]
    # Not a usage invoice: no breakdowns.
    breakdowns = client.v1.customers.invoices.list_breakdowns(
        customer_id=s["customer"], starting_on=_month(), ending_before=_month() + timedelta(days=5)
    )
    assert inv.id not in {b.id for b in breakdowns}


def test_max_amount_counts_every_invoice_that_is_not_voided(client: Metronome, uid: str) -> None:
    s = _setup(client, uid)
    _issue(client, s, {"professional_service_id": s["design"], "quantity": 3})  # 38
    _issue(client, s, {"professional_service_id": s["design"], "quantity": 2, "unit_price": 7.25})  # 15
    # 53 billed; 48 more would make 101 > 100: refused, nothing written.
    with pytest.raises(metronome.BadRequestError, match="max_amount"):
        _issue(client, s, {"professional_service_id": s["design"], "amount": 48})
    # The cap holds inside one request too: 30 + 18 = 48 > 47.
    with pytest.raises(metronome.BadRequestError, match="max_amount"):
        _issue(
            client,
            s,
            {"professional_service_id": s["design"], "amount": 30},
            {"professional_service_id": s["design"], "amount": 18},
        )
    assert len(_pro_invoices(client, s["customer"])) == 2
    full = _issue(client, s, {"professional_service_id": s["design"], "amount": 47})  # 53 + 47 = 100
    assert full.total == 47

    # A voided invoice no longer counts: 100 - 47 = 53 billed, so 40 fits (93).
    client.v1.invoices.void(id=full.id)
    forty = _issue(client, s, {"professional_service_id": s["design"], "amount": 40})
    # Regenerating the voided 47 would bill 93 + 47 = 140 > 100.
    with pytest.raises(metronome.BadRequestError, match="max_amount"):
        client.v1.invoices.regenerate(id=full.id)
    # Void the 40 and regenerate it: 53 + 40 = 93 again, as a new invoice that links back.
    client.v1.invoices.void(id=forty.id)
    again = client.v1.invoices.regenerate(id=forty.id).data.id
    assert again != forty.id
    got = client.v1.customers.invoices.retrieve(customer_id=s["customer"], invoice_id=again).data
    assert (got.status, got.total, got.regenerated_from_invoice_id) == ("FINALIZED", 40, forty.id)
    with pytest.raises(metronome.ConflictError):
        client.v1.invoices.regenerate(id=forty.id)
    statuses = sorted(i.status for i in _pro_invoices(client, s["customer"]))
    assert statuses == ["FINALIZED", "FINALIZED", "FINALIZED", "VOID", "VOID"]
    # Support is capped separately: 1000 of 1000.
    assert _issue(client, s, {"professional_service_id": s["support"], "quantity": 5}).total == 1000


def test_two_invoices_may_share_an_issue_date(client: Metronome, uid: str) -> None:
    s = _setup(client, uid)
    at = _month() + timedelta(days=10)
    a = _issue(client, s, {"professional_service_id": s["support"], "amount": 100}, at=at)
    b = _issue(client, s, {"professional_service_id": s["support"], "amount": 200}, at=at)
    assert a.id != b.id
    listed = {i.id: i.total for i in _pro_invoices(client, s["customer"])}
    assert listed == {a.id: 100, b.id: 200}
    client.v1.invoices.void(id=a.id)
    got = client.v1.customers.invoices.retrieve(customer_id=s["customer"], invoice_id=b.id).data
    assert got.status == "FINALIZED"


def test_lines_added_by_an_amendment(client: Metronome, uid: str) -> None:
    s = _setup(client, uid)
    extra = client.v1.contracts.products.create(name=f"Extra {uid}", type="PROFESSIONAL_SERVICE").data.id
    client.v1.contracts.amend(
        customer_id=s["customer"],
        contract_id=s["contract"],
        starting_at=_month(),
        professional_services=[{"product_id": extra, "unit_price": 3, "quantity": 1, "max_amount": 9}],
    )
    amendment = client.v1.contracts.retrieve(
        customer_id=s["customer"], contract_id=s["contract"]
    ).data.amendments[0]
    ps = (amendment.professional_services or [])[0].id
    inv = _issue(client, s, {"professional_service_id": ps, "amendment_id": amendment.id, "quantity": 3})
    assert inv.total == 9  # 3 x 3
    with pytest.raises(metronome.BadRequestError, match="amendment_id"):
        _issue(client, s, {"professional_service_id": s["design"], "amendment_id": amendment.id, "amount": 1})


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ({"professional_service_id": "00000000-0000-4000-8000-000000000000", "amount": 1}, "no professional"),
        ({"professional_service_id": "DESIGN", "amount": 1, "quantity": 1}, "either amount"),
        ({"professional_service_id": "DESIGN", "unit_price": 1}, "unit_price needs quantity"),
        ({"professional_service_id": "DESIGN"}, "amount or quantity"),
        ({"professional_service_id": "DESIGN", "amount": -5}, "amount"),
        ({"professional_service_id": "DESIGN", "quantity": "x"}, "quantity"),
        ({"professional_service_id": "DESIGN", "amount": 1, "amendment_id": "nope"}, "amendment_id"),
        (
            {
                "professional_service_id": "DESIGN",
                "amount": 1,
                "netsuite_invoice_billing_start": "2024-02-01T00:00:00Z",
                "netsuite_invoice_billing_end": "2024-01-01T00:00:00Z",
            },
            "netsuite_invoice_billing_end",
        ),
        ({"professional_service_id": "DESIGN", "amount": 1, "surprise": 1}, "surprise"),
    ],
)
def test_bad_lines_are_400_and_write_nothing(
    client: Metronome, uid: str, line: dict[str, Any], match: str
) -> None:
    s = _setup(client, uid)
    line = {k: (s["design"] if v == "DESIGN" else v) for k, v in line.items()}
    with pytest.raises(metronome.BadRequestError, match=match):
        _issue(client, s, line)
    assert _pro_invoices(client, s["customer"]) == []


def test_unknown_or_foreign_contract_is_404(client: Metronome, intruder: Metronome, uid: str) -> None:
    s = _setup(client, uid)
    other = client.v1.customers.create(name=f"other-{uid}").data.id
    line = {"professional_service_id": s["design"], "amount": 1}
    with pytest.raises(metronome.NotFoundError):
        _issue(client, {**s, "customer": other}, line)
    with pytest.raises(metronome.NotFoundError):
        _issue(intruder, s, line)
    with pytest.raises(metronome.BadRequestError, match="line_items"):
        _issue(client, s)
    assert _pro_invoices(client, s["customer"]) == []
