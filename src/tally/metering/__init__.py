"""PURE: what a billable metric means: filters, aggregations, windows."""

from tally.metering.aggregate import (
    Accumulator,
    UsageRow,
    group_sort_key,
    hour_of,
    hour_start,
    project,
    reference_usage,
    windows,
)
from tally.metering.metric import Contribution, EventLike, GroupValues, MetricDef, MetricIndex, PropertyFilter
from tally.metering.values import quantity, string_form

__all__ = [
    "Accumulator",
    "Contribution",
    "EventLike",
    "GroupValues",
    "MetricDef",
    "MetricIndex",
    "PropertyFilter",
    "UsageRow",
    "group_sort_key",
    "hour_of",
    "hour_start",
    "project",
    "quantity",
    "reference_usage",
    "string_form",
    "windows",
]
