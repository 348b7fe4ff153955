from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from tally.kit.api import Id, NonEmptyStr, Req, Str, Ts
from tally.kit.responses import Doc, WireTs


def _window(value: Any) -> Any:
    # The SDK sends HOUR/DAY/NONE; its docstring spells them lowercase, so accept either.
    return value.upper() if isinstance(value, str) else value


WindowSize = Annotated[Literal["HOUR", "DAY", "NONE"], BeforeValidator(_window)]


class GroupBy(Req):
    key: NonEmptyStr
    values: list[Str] | None = Field(default=None, max_length=200)


class MetricSelector(Req):
    id: Id
    group_by: GroupBy | None = None


class ListUsage(Req):
    starting_on: Ts
    ending_before: Ts
    window_size: WindowSize
    billable_metrics: list[MetricSelector] | None = Field(default=None, max_length=100)
    customer_ids: list[Id] | None = Field(default=None, max_length=100)


class ListUsageWithGroups(Req):
    billable_metric_id: Id
    customer_id: Id
    window_size: WindowSize
    starting_on: Ts | None = None
    ending_before: Ts | None = None
    current_period: bool | None = None
    group_by: GroupBy | None = None
    group_key: list[NonEmptyStr] | None = Field(default=None, min_length=1)
    group_filters: dict[NonEmptyStr, list[Str]] | None = None


class SearchEvents(Req):
    # Metronome's wire name is camelCase here (the only such request key).
    transactionIds: list[Id] = Field(min_length=1, max_length=100)


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class UsageDoc(Doc):
    billable_metric_id: str
    billable_metric_name: str
    customer_id: str
    start_timestamp: WireTs
    end_timestamp: WireTs


class UsageGroupDoc(Doc):
    starting_on: WireTs
    ending_before: WireTs


class IngestOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transaction_id: str
    status: Literal["accepted", "duplicate"]


class IngestDoc(BaseModel):
    """The answer to POST /v1/ingest, sent only after the batch committed."""

    model_config = ConfigDict(extra="forbid")
    data: list[IngestOutcome]


class SearchedEvents(RootModel[list[Doc]]):
    """POST /v1/events/search answers a bare array of events."""


class IngestEventDoc(BaseModel):
    """One usage event as POST /v1/ingest takes it. tally.usage.ingest validates the batch by hand (the hot
    path); this model documents what that code accepts and is not used to parse."""

    model_config = ConfigDict(extra="forbid")
    transaction_id: str = Field(min_length=1, max_length=255)
    customer_id: str = Field(min_length=1, max_length=255)
    event_type: str = Field(min_length=1, max_length=255)
    timestamp: str = Field(json_schema_extra={"format": "date-time"})
    properties: dict[str, Any] | None = None


class IngestBatch(RootModel[list[IngestEventDoc]]):
    """The body of POST /v1/ingest: an array of 1 to 100 events."""

    root: list[IngestEventDoc] = Field(min_length=1, max_length=100)
