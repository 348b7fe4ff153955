"""The validated usage event handed from ingest to metering (one per newly stored event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
