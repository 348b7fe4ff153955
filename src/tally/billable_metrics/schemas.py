from __future__ import annotations

from typing import Literal

from pydantic import Field

from tally.kit.api import NonEmptyStr, Req, Str
from tally.kit.responses import Doc

AggregationType = Literal["COUNT", "LATEST", "MAX", "SUM", "UNIQUE"]


class EventTypeFilter(Req):
    in_values: list[Str] | None = Field(default=None, min_length=1)
    not_in_values: list[Str] | None = Field(default=None, min_length=1)


class PropertyFilter(Req):
    name: NonEmptyStr
    exists: bool | None = None
    in_values: list[Str] | None = Field(default=None, min_length=1)
    not_in_values: list[Str] | None = Field(default=None, min_length=1)


class CreateMetric(Req):
    name: NonEmptyStr
    aggregation_key: NonEmptyStr | None = None
    aggregation_type: AggregationType | None = None
    custom_fields: dict[NonEmptyStr, Str] | None = None
    event_type_filter: EventTypeFilter | None = None
    group_keys: list[list[NonEmptyStr]] | None = None
    property_filters: list[PropertyFilter] | None = None
    sql: NonEmptyStr | None = None


class UpdateMetric(Req):
    name: NonEmptyStr


class ArchiveMetric(Req):
    id: NonEmptyStr


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class MetricDoc(Doc):
    id: str
    name: str
