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
    grace_period_hours: NonNegNum


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


class InvoiceSettingsDoc(Doc):
    grace_period_hours: int


class TestClockDoc(Doc):
    now: WireTs


class TestClockSetDoc(TestClockDoc):
    finalized_invoices: int
