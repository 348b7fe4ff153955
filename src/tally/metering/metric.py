"""What a streaming billable metric means (SPEC §2.2-2.4): which events match and what each contributes.

Pure: definitions are plain values; events are anything with the attributes of `EventLike`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from tally.metering.values import quantity, string_form

AGGREGATIONS = ("COUNT", "SUM", "MAX", "UNIQUE", "LATEST", "SQL")
GroupValues = tuple[str | None, ...]


class EventLike(Protocol):
    @property
    def transaction_id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class PropertyFilter:
    name: str
    exists: bool | None = None
    in_values: frozenset[str] | None = None
    not_in_values: frozenset[str] | None = None

    def passes(self, properties: Mapping[str, Any]) -> bool:
        raw = properties.get(self.name)
        text = raw if type(raw) is str else string_form(raw)
        if text is None:
            # Absent (or null): fails `exists: true` and any `in_values` (SPEC §2.2 [I]).
            return self.exists is not True and self.in_values is None
        if self.exists is False:
            return False
        if self.in_values is not None and text not in self.in_values:
            return False
        return self.not_in_values is None or text not in self.not_in_values


class Contribution(NamedTuple):
    """What one matching event adds: the quantity (SUM/MAX/LATEST) or distinct value (UNIQUE)."""

    quantity: Decimal | None = None
    unique: str | None = None


@dataclass(frozen=True)
class MetricDef:
    id: str
    aggregation_type: str
    aggregation_key: str | None = None
    event_types_in: frozenset[str] | None = None
    event_types_not_in: frozenset[str] | None = None
    property_filters: tuple[PropertyFilter, ...] = ()
    group_keys: tuple[tuple[str, ...], ...] = ()
    # SQL metrics (aggregation "SQL"): the checked query (tally.metering.sql.SqlMetric). They are never fed
    # events one by one: the event store runs the query.
    sql: Any = field(default=None, compare=False)
    # When the metric was created: streaming metrics are not retroactive (SPEC §1.6), so a store that keeps
    # raw events (ClickHouse) counts only events received from then on, as ingest-time rollups do.
    created_at: datetime | None = field(default=None, compare=False)
    # Every property any group key uses, sorted: rollups are sliced by all of them at once, so any
    # declared group key can be re-aggregated from the same rows.
    group_properties: tuple[str, ...] = field(init=False)
    _checks: tuple[tuple[str, bool | None, frozenset[str] | None, frozenset[str] | None], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.aggregation_type not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.aggregation_type!r}")
        props = sorted({p for key in self.group_keys for p in key})
        object.__setattr__(self, "group_properties", tuple(props))
        # Flattened filters: contribution() runs for every event x candidate metric at ingest.
        checks = tuple((f.name, f.exists, f.in_values, f.not_in_values) for f in self.property_filters)
        object.__setattr__(self, "_checks", checks)

    @classmethod
    def of(
        cls,
        metric_id: str,
        aggregation_type: str,
        aggregation_key: str | None,
        event_type_filter: Mapping[str, Any] | None,
        property_filters: Iterable[Mapping[str, Any]],
        group_keys: Iterable[Sequence[str]],
    ) -> MetricDef:
        """Build from the stored JSON shape of a billable metric."""
        etf = event_type_filter or {}

        def _set(values: Any) -> frozenset[str] | None:
            return None if values is None else frozenset(str(v) for v in values)

        return cls(
            id=metric_id,
            aggregation_type=aggregation_type,
            aggregation_key=aggregation_key,
            event_types_in=_set(etf.get("in_values")),
            event_types_not_in=_set(etf.get("not_in_values")),
            property_filters=tuple(
                PropertyFilter(
                    name=f["name"],
                    exists=f.get("exists"),
                    in_values=_set(f.get("in_values")),
                    not_in_values=_set(f.get("not_in_values")),
                )
                for f in property_filters
            ),
            group_keys=tuple(tuple(k) for k in group_keys),
        )

    def contribution(self, event_type: str, properties: Mapping[str, Any]) -> Contribution | None:
        """None when the event does not count toward this metric."""
        ins = self.event_types_in
        if ins is not None and event_type not in ins:
            return None
        outs = self.event_types_not_in
        if outs is not None and event_type in outs:
            return None
        # Same rules as PropertyFilter.passes, inlined.
        for name, exists, in_values, not_in_values in self._checks:
            raw = properties.get(name)
            if raw is None:
                if exists or in_values is not None:
                    return None
                continue
            if exists is False:
                return None
            if in_values is None and not_in_values is None:
                continue
            text = raw if type(raw) is str else string_form(raw)
            if in_values is not None and text not in in_values:
                return None
            if not_in_values is not None and text in not_in_values:
                return None
        agg = self.aggregation_type
        if agg == "COUNT":
            return _COUNTED
        if agg == "SQL":
            return None
        raw = properties.get(self.aggregation_key) if self.aggregation_key else None
        if agg == "UNIQUE":
            text = string_form(raw)
            return None if text is None else Contribution(None, text)
        q = quantity(raw)
        return None if q is None else Contribution(q, None)

    def group_values(self, properties: Mapping[str, Any]) -> GroupValues:
        """Values of `group_properties` (a missing property is a null group value, SPEC §2.4)."""
        return tuple([string_form(properties.get(p)) for p in self.group_properties])

    def group_values_for(self, properties: Mapping[str, Any], key: Sequence[str]) -> GroupValues:
        return tuple(string_form(properties.get(p)) for p in key)


_COUNTED = Contribution()


class MetricIndex:
    """The metrics of one tenant, indexed by event type so each event is tested only against candidates."""

    def __init__(self, metrics: Iterable[MetricDef]) -> None:
        self.metrics = tuple(metrics)
        self._by_type: dict[str, list[MetricDef]] = {}
        self._any: list[MetricDef] = []
        for m in self.metrics:
            if m.event_types_in is None:
                self._any.append(m)
            else:
                for t in m.event_types_in:
                    self._by_type.setdefault(t, []).append(m)

    def candidates(self, event_type: str) -> list[MetricDef]:
        typed = self._by_type.get(event_type)
        if typed is None:
            return self._any
        return typed + self._any if self._any else typed

    def matching(self, event: EventLike) -> list[tuple[MetricDef, Contribution]]:
        out = []
        for m in self.candidates(event.event_type):
            c = m.contribution(event.event_type, event.properties)
            if c is not None:
                out.append((m, c))
        return out
