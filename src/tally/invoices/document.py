"""The invoice document as a typed, immutable read view (issue 13 §1).

An invoice's JSON (Metronome's shape: `wire.invoice_wire`, a professional-services or historical
invoice's additions, the stored snapshot of an issued one) stays the dict the API returns, byte for byte.
Code that reads a document (the HTML/PDF context, the CSV export, breakdowns, explain, the parties of a
document) parses it once, where it is loaded (`service.Entry.view`, `parse_snapshot`), into these values.

msgspec Structs (frozen), like the contract terms (`contracts.terms.model`). Writers must not outgrow
the view: every document that leaves DRAFT is checked by `service.left_draft` with `unknown_keys`, in the
transaction that stores it, so a writer that adds a key without a field here fails there and in the tests
(tests/unit/test_invoice_document.py checks every key the writers produce). Reading is lenient: an issued
snapshot is immutable and may have been written by an older tally, so a key the view does not know is
skipped rather than making the invoice unreadable (the view is never written back; the stored JSON and
the API's answer keep every key). Closed sets are enums.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec
import msgspec.inspect as mi

from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.rating.inputs import CommitType
from tally.rating.results import LineType
from tally.wire import decode_json

Json = dict[str, Any]


class ProductListType(StrEnum):
    """A line's `product_type`: Metronome names list items, not products."""

    USAGE = "UsageProductListItem"
    SUBSCRIPTION = "SubscriptionProductListItem"
    COMPOSITE = "CompositeProductListItem"
    FIXED = "FixedProductListItem"


class CommitKind(StrEnum):
    """The `commit_type` of a line billing a commit (a credit is applied as a prepaid commit)."""

    PREPAID = "PrepaidCommit"
    POSTPAID = "PostpaidCommit"


class BillableStatus(StrEnum):
    """A historical invoice's `billable_status`."""

    BILLABLE = "billable"
    UNBILLABLE = "unbillable"


class _Doc(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of an invoice document: immutable; absent keys are None."""


class CreditType(_Doc, frozen=True, kw_only=True):
    id: str
    name: str


class Tier(_Doc, frozen=True, kw_only=True):
    price: Decimal
    quantity: Decimal
    starting_at: Decimal | None = None
    subtotal: Decimal


class SubLineItem(_Doc, frozen=True, kw_only=True):
    """One tier row of a tiered line."""

    name: str
    quantity: Decimal
    subtotal: Decimal
    price: Decimal
    custom_fields: Json
    tiers: tuple[Tier, ...] = ()


class AppliedCommitOrCredit(_Doc, frozen=True, kw_only=True):
    id: str
    type: CommitType
    access_type: str | None = None  # "QUANTITY"; absent means SPEND


class PostpaidCommit(_Doc, frozen=True, kw_only=True):
    id: str


class LineItem(_Doc, frozen=True, kw_only=True):
    credit_type: CreditType
    name: str
    total: Decimal
    type: LineType
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    product_id: str | None = None
    product_type: ProductListType | None = None
    subscription_id: str | None = None
    scheduled_charge_id: str | None = None
    discount_id: str | None = None
    commit_id: str | None = None
    commit_segment_id: str | None = None
    commit_type: CommitKind | None = None
    is_prorated: bool | None = None
    starting_at: datetime | None = None
    ending_before: datetime | None = None
    pricing_group_values: dict[str, str] | None = None
    presentation_group_values: dict[str, str] | None = None
    quantity_consumed: Decimal | None = None
    applied_commit_or_credit: AppliedCommitOrCredit | None = None
    postpaid_commit: PostpaidCommit | None = None
    sub_line_items: tuple[SubLineItem, ...] = ()
    # A professional-services line (invoices.pro_services)
    professional_service_id: str | None = None
    metadata: str | None = None
    netsuite_invoice_billing_start: datetime | None = None
    netsuite_invoice_billing_end: datetime | None = None
    professional_service_custom_fields: dict[str, str] | None = None
    # `include_list_prices` (service.with_list_prices)
    list_price: Json | None = None

    @property
    def group_values(self) -> dict[str, str]:
        """Presentation then pricing group values (a pricing value wins a shared key)."""
        return {**(self.presentation_group_values or {}), **(self.pricing_group_values or {})}


class InvoiceDoc(_Doc, frozen=True, kw_only=True):
    id: str
    customer_id: str
    contract_id: str
    type: InvoiceKind  # USAGE or SCHEDULED on the wire (service.wire_type)
    status: InvoiceStatus
    credit_type: CreditType
    start_timestamp: datetime
    end_timestamp: datetime
    issued_at: datetime
    subtotal: Decimal
    total: Decimal
    line_items: tuple[LineItem, ...]
    invoice_adjustments: tuple[Json, ...] = ()
    net_payment_terms_days: Decimal | None = None  # whole days
    regenerated_from_invoice_id: str | None = None
    # A historical invoice (invoices.historical)
    billable_status: BillableStatus | None = None  # billable when absent
    custom_fields: dict[str, str] | None = None
    # tally's additions to an issued invoice (service.with_number) and its Stripe invoice
    invoice_number: str | None = None
    due_date: datetime | None = None
    external_invoice: Json | None = None


def parse(doc: Json) -> InvoiceDoc:
    """The read view of an invoice's JSON (as `wire.invoice_wire` and the other writers build it)."""
    return msgspec.convert(doc, InvoiceDoc)


def parse_snapshot(snapshot: str, status: InvoiceStatus | str | None = None) -> InvoiceDoc:
    """The read view of a stored snapshot; `status`: the row's (a voided invoice keeps its snapshot)."""
    doc = decode_json(snapshot.encode())
    if status is not None:
        doc["status"] = status
    return parse(doc)


def unknown_keys(doc: Json) -> list[str]:
    """The keys of an invoice document (dotted paths) that the view has no field for."""
    return _unknown(doc, mi.type_info(InvoiceDoc), "")


def _unknown(value: Any, kind: mi.Type, path: str) -> list[str]:
    sequences = (mi.ListType, mi.VarTupleType)
    if isinstance(kind, mi.UnionType):
        wanted = mi.StructType if isinstance(value, dict) else sequences
        return next((_unknown(value, t, path) for t in kind.types if isinstance(t, wanted)), [])
    if isinstance(kind, mi.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f.type for f in kind.fields}
        return [
            found
            for key, item in value.items()
            for found in (_unknown(item, fields[key], f"{path}{key}.") if key in fields else [f"{path}{key}"])
        ]
    if isinstance(kind, sequences) and isinstance(value, list):
        item_type = kind.item_type
        return [found for i, item in enumerate(value) for found in _unknown(item, item_type, f"{path}{i}.")]
    return []
