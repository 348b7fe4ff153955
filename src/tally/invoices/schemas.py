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
    grace_period_hours: NonNegNum


class SetTestClock(Req):
    now: Ts


class NoFields(Req):
    """A read that takes no parameters (the body must be empty or `{}`)."""
