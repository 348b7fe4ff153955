from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tally.kit.api import Id, NonEmptyStr, NonNegNum, Req, Ts


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
