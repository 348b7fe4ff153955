from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from tally.kit.api import Id, NonEmptyStr, Req, Str, Ts


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
