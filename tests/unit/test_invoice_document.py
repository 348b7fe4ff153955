"""The invoice document's typed read view (invoices.document): every key the writers put in an invoice's
JSON is a field (the view refuses unknown keys), and a document parses to the values it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from tally.invoices import document, service, wire
from tally.invoices.document import InvoiceDoc, LineItem, SubLineItem, Tier
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.money.credit_types import FIAT_BY_ID, USD_CENTS_ID
from tally.rating.inputs import CommitType, ProductType
from tally.rating.results import Invoice, InvoiceLine, InvoiceType, LineType, TierLine
from tally.wire import decode_json

USD_CENTS = FIAT_BY_ID[USD_CENTS_ID]
T0, T1 = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
NAMES = {USD_CENTS.id: USD_CENTS.name}


def _line(type_: LineType, **kw: Any) -> InvoiceLine:
    return InvoiceLine("k", type_, "n", USD_CENTS.id, Decimal(5), Decimal(5), **kw)


# Between them, every optional value line_wire and invoice_wire write.
LINES = (
    _line(
        LineType.USAGE,
        quantity=Decimal(3),
        unit_price=Decimal("1.5"),
        product_id="p",
        product_type=ProductType.USAGE,
        starting_at=T0,
        ending_before=T1,
        pricing_group_values=(("region", "eu"),),
        presentation_group_values=(("team", "a"),),
        tiers=(TierLine(Decimal(0), Decimal(3), Decimal("1.5"), Decimal(5)),),
        is_prorated=True,
        subscription_id="s",
        scheduled_charge_id="sc",
        discount_id="d",
    ),
    _line(
        LineType.APPLIED,
        commit_id="c",
        commit_segment_id="seg",
        commit_type=CommitType.PREPAID,
        quantity_consumed=Decimal(2),
    ),
    _line(LineType.POSTPAID_TRUEUP, commit_id="c2", commit_type=CommitType.POSTPAID),
)
INVOICE = Invoice(InvoiceType.USAGE, "ct", "cu", USD_CENTS, T0, T1, LINES, Decimal(15), Decimal(15))


def _wire() -> dict[str, Any]:
    return wire.invoice_wire(
        INVOICE,
        invoice_id="i",
        status=InvoiceStatus.DRAFT,
        names=NAMES,
        net_payment_terms_days=30,
        regenerated_from="i0",
    )


def _keys(struct: type[msgspec.Struct]) -> set[str]:
    return set(struct.__struct_fields__)


def test_every_key_wire_writes_is_a_field() -> None:
    doc = _wire()
    assert document.unknown_keys(doc) == []
    assert set(doc) <= _keys(InvoiceDoc)
    for li in doc["line_items"]:
        assert set(li) <= _keys(LineItem)
        for sub in li.get("sub_line_items", []):
            assert set(sub) <= _keys(SubLineItem)
            for tier in sub["tiers"]:
                assert set(tier) <= _keys(Tier)
    written = {k for li in doc["line_items"] for k in li}
    # every optional line key wire.line_wire knows is exercised above
    assert written >= _keys(LineItem) - {
        "professional_service_id",
        "metadata",
        "netsuite_invoice_billing_start",
        "netsuite_invoice_billing_end",
        "professional_service_custom_fields",
        "list_price",
    }


def test_parse_holds_the_documents_values() -> None:
    doc = _wire()
    view = document.parse(doc)
    assert view.type is InvoiceKind.USAGE
    assert view.status is InvoiceStatus.DRAFT
    assert (view.start_timestamp, view.end_timestamp, view.issued_at) == (T0, T1, T1)
    assert view.net_payment_terms_days == 30
    assert view.regenerated_from_invoice_id == "i0"
    usage, applied, trueup = view.line_items
    assert usage.type is LineType.USAGE
    assert usage.product_type is document.ProductListType.USAGE
    assert usage.group_values == {"team": "a", "region": "eu"}
    assert usage.sub_line_items[0].tiers[0].subtotal == Decimal(5)
    assert usage.commit_type is None
    assert usage.starting_at == T0
    assert applied.applied_commit_or_credit == document.AppliedCommitOrCredit(
        id="c", type=CommitType.PREPAID, access_type="QUANTITY"
    )
    assert applied.commit_type is document.CommitKind.PREPAID
    assert trueup.postpaid_commit == document.PostpaidCommit(id="c2")
    # a stored snapshot parses to the same view; its row's status wins
    text, _ = wire.snapshot_bytes(doc)
    assert document.parse_snapshot(text, "VOID") == msgspec.structs.replace(view, status=InvoiceStatus.VOID)
    assert document.parse(decode_json(text.encode())) == view


def test_unknown_keys_are_found_for_writers_and_skipped_for_readers() -> None:
    doc = _wire()
    assert document.unknown_keys(doc) == []
    doc["surprise"] = 1
    doc["line_items"][0]["surprise"] = {"deep": 1}
    doc["line_items"][0]["credit_type"]["extra"] = "x"
    unknown = ["line_items.0.credit_type.extra", "line_items.0.surprise", "surprise"]
    assert sorted(document.unknown_keys(doc)) == unknown
    # A stored snapshot written by another tally version still reads: the view skips what it does not know.
    assert document.parse(doc) == document.parse(_wire())


def test_the_readers_additions_are_fields() -> None:
    """tally's additions to an issued invoice (`service.with_number`, `external_invoice`) and a historical
    invoice's parse too."""
    doc = {
        **_wire(),
        "invoice_number": "INV-000001",
        "due_date": "2026-05-01T00:00:00Z",
        "external_invoice": {"billing_provider_type": "stripe"},
        "billable_status": "unbillable",
        "custom_fields": {"a": "b"},
        "type": service.wire_type(InvoiceKind.HISTORICAL),
    }
    doc["line_items"] = [
        *doc["line_items"],
        {  # a professional-services line (invoices.pro_services)
            "credit_type": {"id": USD_CENTS.id, "name": USD_CENTS.name},
            "name": "Setup",
            "total": Decimal(100),
            "type": "scheduled",
            "product_id": "p",
            "product_type": "FixedProductListItem",
            "professional_service_id": "ps",
            "quantity": Decimal(1),
            "unit_price": Decimal(100),
            "metadata": "PO 42",
            "netsuite_invoice_billing_start": "2026-03-01T00:00:00Z",
            "netsuite_invoice_billing_end": "2026-04-01T00:00:00Z",
            "professional_service_custom_fields": {"k": "v"},
        },
    ]
    assert document.unknown_keys(doc) == []
    view = document.parse(doc)
    assert view.invoice_number == "INV-000001"
    assert view.due_date == datetime(2026, 5, 1, tzinfo=UTC)
    assert view.billable_status is document.BillableStatus.UNBILLABLE
    assert view.line_items[-1].metadata == "PO 42"
