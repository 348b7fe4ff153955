from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tally.kit.api import Id, NonEmptyStr, NonNegNum, Req, Ts
from tally.kit.responses import Doc, WireNum, WireTs


class InvoiceRef(Req):
    id: Id


class PreviewEvent(Req):
    event_type: NonEmptyStr
    properties: dict[str, Any] | None = None
    timestamp: Ts | None = None
    transaction_id: Id | None = None


class PreviewEvents(Req):
    events: list[PreviewEvent] = Field(max_length=100)
    mode: Literal["replace", "merge"] | None = None
    skip_zero_qty_line_items: bool | None = None


class ListLateEvents(Req):
    customer_id: Id
    invoice_id: Id | None = None
    limit: int | None = Field(default=None, ge=1, le=100)
    next_page: str | None = None


class InvoiceSettings(Req):
    """Every field is optional: a field left out keeps its value; null clears it (or restores the
    default). Issuer fields are checked by invoices.documents (clear 400s naming the field)."""

    grace_period_hours: NonNegNum | None = None
    legal_name: Any = None
    address_lines: Any = None
    tax_id: Any = None
    contact_email: Any = None
    footer_text: Any = None
    logo: Any = None
    invoice_number_prefix: Any = None
    default_net_payment_terms_days: Any = None


class CustomerRef(Req):
    customer_id: Id


class BillingDetails(Req):
    """A customer's bill-to; fields left out keep their value, null clears one."""

    customer_id: Id
    legal_name: Any = None
    address_lines: Any = None
    tax_id: Any = None
    billing_email: Any = None


class SetTestClock(Req):
    now: Ts


class NoFields(Req):
    """A read that takes no parameters (the body must be empty or `{}`)."""


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class InvoiceDoc(Doc):
    id: str
    customer_id: str
    type: str
    status: str
    credit_type: dict[str, Any]
    line_items: list[Any]
    total: WireNum


class BreakdownDoc(InvoiceDoc):
    breakdown_start_timestamp: WireTs
    breakdown_end_timestamp: WireTs


class LateEventDoc(Doc):
    invoice_id: str
    transaction_id: str
    customer_id: str
    timestamp: WireTs


class LogoDoc(Doc):
    media_type: str
    sha256: str


class InvoiceSettingsDoc(Doc):
    grace_period_hours: int
    legal_name: str | None = None
    address_lines: list[str] | None = None
    tax_id: str | None = None
    contact_email: str | None = None
    footer_text: str | None = None
    logo: LogoDoc | None = None
    invoice_number_prefix: str | None = None
    default_net_payment_terms_days: int | None = None


class BillingDetailsDoc(Doc):
    customer_id: str
    legal_name: str | None = None
    address_lines: list[str] | None = None
    tax_id: str | None = None
    billing_email: str | None = None


class TestClockDoc(Doc):
    now: WireTs


class TestClockSetDoc(TestClockDoc):
    finalized_invoices: int


class ExplainLine(Req):
    """Which usage line to explain: `line_index` is the line's position in the invoice's `line_items`."""

    customer_id: Id
    invoice_id: Id
    line_index: int = Field(ge=0)
    limit: int | None = Field(default=None, ge=1, le=100)
    next_page: str | None = None
    # True: re-aggregate every event of the period (the proof; slow for a busy customer). False: the
    # quantity, groups and event count come from the usage rollups rating reads.
    verify: bool = False


class EventTierShareDoc(Doc):
    tier: int  # 1-based, as the invoice's tier rows
    quantity: WireNum  # the event's part of that tier (COUNT and SUM lines)


class ExplainedEventDoc(Doc):
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: WireTs
    properties: dict[str, Any]  # only the properties the billable metric reads
    value: str | None  # what the event contributes: 1 (COUNT), the number, or the distinct value (UNIQUE)
    group_values: dict[str, str | None]
    tiers: list[EventTierShareDoc]  # empty unless the line is tiered and COUNT or SUM


class TierSplitDoc(Doc):
    tier: int
    starting_at: WireNum
    ending_before: WireNum | None
    price: WireNum
    quantity: WireNum
    subtotal: WireNum


class GroupSplitDoc(Doc):
    group_values: dict[str, str | None]
    quantity: WireNum


class ExplanationDoc(Doc):
    invoice_id: str
    customer_id: str
    status: str
    line_index: int
    line_name: str
    product_id: str
    billable_metric_id: str
    aggregation_type: str
    aggregation_key: str | None
    group_values: dict[str, Any]
    starting_at: WireTs
    ending_before: WireTs
    line_quantity: WireNum | None
    credit_type: dict[str, Any]  # what the tier prices and subtotals are in
    # In the line's units (after the product's quantity conversion and rounding). verified: the events
    # re-aggregated; otherwise the usage rollups' figure for the line.
    quantity: WireNum
    metric_quantity: WireNum  # the same in the billable metric's units, before the conversion
    quantity_conversion: dict[str, Any] | None  # the product's: operation, conversion_factor, name
    quantity_rounding: dict[str, Any] | None  # the product's: rounding_method, decimal_places
    verified: bool  # whether `quantity`, `groups` and `event_count` come from re-aggregating every event
    value_before_period: WireNum | None  # LATEST: the last value before the period (the line bills the rise)
    events_watermark: int | None  # finalized invoices: only events at or below this log position count
    event_count: int
    events: list[ExplainedEventDoc]
    groups: list[GroupSplitDoc]
    tiers: list[TierSplitDoc]  # the line's tier rows; empty for an untiered line
    events_split_by_tier: bool  # whether each event carries its share of each tier
    late_event_count: int
    late_events: list[ExplainedEventDoc]
    next_page: str | None
