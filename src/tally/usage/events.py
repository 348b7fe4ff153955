"""The usage domain's value types: the validated event handed from ingest to metering, the hour spans
usage is read over, the cells the event stores answer with, and a stored event for explanations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class AcceptedEvent:
    """An event as accepted by `POST /v1/ingest`.

    `customer_id` is the string the event carried (a customer id or an ingest alias; resolved when usage
    is read). `properties` keeps values as sent: str, Decimal (JSON numbers), int, bool, None, nested
    lists/objects; numeric strings stay strings.
    """

    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]


@dataclass(frozen=True)
class Span:
    """Hours [first, end) and how they fold into windows: bucket = (hour - first) // width."""

    first: int
    end: int
    width: int | None  # hours per window; None: one window


@dataclass(frozen=True)
class Cell:
    customer_key: str
    bucket: int
    group_key: str
    count: int
    total: Decimal | None
    maximum: Decimal | None


@dataclass(frozen=True)
class LatestCell:
    customer_key: str
    bucket: int
    group_key: str
    ts: datetime
    txn: str
    value: Decimal


@dataclass(frozen=True)
class RawEvent:
    """One accepted event as stored, with its position in the event log (usage.late_gate)."""

    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any]
    received_at: datetime
    position: int


@dataclass(frozen=True)
class EventGroup:
    customer_key: str
    event_type: str
    count: int
    first_seen: datetime
    last_seen: datetime
