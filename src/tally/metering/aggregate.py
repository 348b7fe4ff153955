"""Aggregation semantics (SPEC §2.3) and the pure reference aggregator.

The reference aggregator reads events directly. It is the oracle the tests compare the database-backed
usage queries against, and the engine behind event previews. Request paths never feed it stored events.

Decisions:
- COUNT, SUM and UNIQUE of no events are 0; MAX and LATEST of no events have no value (None).
- LATEST is the quantity of the event with the greatest (timestamp, transaction_id): ties on the
  timestamp go to the greater transaction id, so the result does not depend on arrival order.
  Usage queries report that latest value per window; invoices bill LATEST as deltas (SPEC §2.3).
- UNIQUE counts distinct string forms (so "1" and "1.0" are two values), over the whole window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tally.metering.metric import Contribution, EventLike, GroupValues, MetricDef
from tally.metering.values import add

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
WINDOW_SIZES = ("HOUR", "DAY", "NONE")

Latest = tuple[datetime, str, Decimal]


def hour_of(ts: datetime) -> int:
    """Hours since the epoch of the hour bucket holding `ts` (floor, also before 1970)."""
    return (ts - EPOCH) // HOUR


def hour_start(hour: int) -> datetime:
    return EPOCH + hour * HOUR


def windows(start: datetime, end: datetime, window_size: str) -> list[tuple[datetime, datetime]]:
    """Half-open windows covering [start, end); DAY windows assume UTC-midnight bounds."""
    if window_size == "NONE":
        return [(start, end)]
    step = HOUR if window_size == "HOUR" else timedelta(days=1)
    out = []
    cur = start
    while cur < end:
        nxt = min(cur + step, end)
        out.append((cur, nxt))
        cur = nxt
    return out


def later(a: Latest | None, b: Latest | None) -> Latest | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if (b[0], b[1]) > (a[0], a[1]) else a


@dataclass
class Accumulator:
    count: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    latest: Latest | None = None
    uniques: set[str] = field(default_factory=set)

    def add(self, c: Contribution, ts: datetime, transaction_id: str) -> None:
        self.count += 1
        q = c.quantity
        if q is not None:
            self.total = add(self.total, q)
            if self.maximum is None or q > self.maximum:
                self.maximum = q
            self.latest = later(self.latest, (ts, transaction_id, q))
        if c.unique is not None:
            self.uniques.add(c.unique)

    def value(self, aggregation_type: str) -> Decimal | None:
        if aggregation_type == "COUNT":
            return Decimal(self.count)
        if aggregation_type == "SUM":
            return self.total
        if aggregation_type == "MAX":
            return self.maximum
        if aggregation_type == "UNIQUE":
            return Decimal(len(self.uniques))
        return None if self.latest is None else self.latest[2]


@dataclass(frozen=True)
class UsageRow:
    start: datetime
    end: datetime
    group: GroupValues | None
    value: Decimal | None


def project(metric: MetricDef, values: GroupValues, group_key: Sequence[str]) -> GroupValues:
    """Narrow a full `group_properties` tuple to the properties of one group key, in its order."""
    pos = {p: i for i, p in enumerate(metric.group_properties)}
    return tuple(values[pos[k]] for k in group_key)


def reference_usage(
    metric: MetricDef,
    events: Iterable[EventLike],
    start: datetime,
    end: datetime,
    window_size: str,
    group_key: Sequence[str] | None = None,
) -> list[UsageRow]:
    """Usage of one customer's events per window (and per group value of `group_key`, if given).

    Without a group key every window is reported; with one, every window of each group that has usage
    somewhere in [start, end). Rows are ordered by window, then group (null first).
    """
    spans = windows(start, end, window_size)
    cells: dict[tuple[int, GroupValues], Accumulator] = {}
    groups: set[GroupValues] = set()
    for ev in events:
        if not (start <= ev.timestamp < end):
            continue
        c = metric.contribution(ev.event_type, ev.properties)
        if c is None:
            continue
        idx = _window_index(spans, ev.timestamp, window_size)
        g: GroupValues = ()
        if group_key is not None:
            g = tuple(metric.group_values_for(ev.properties, group_key))
            groups.add(g)
        cells.setdefault((idx, g), Accumulator()).add(c, ev.timestamp, ev.transaction_id)
    ordered = [()] if group_key is None else sorted(groups, key=group_sort_key)
    out = []
    for i, (s, e) in enumerate(spans):
        for g in ordered:
            acc = cells.get((i, g)) or Accumulator()
            out.append(UsageRow(s, e, None if group_key is None else g, acc.value(metric.aggregation_type)))
    return out


def group_sort_key(values: GroupValues) -> tuple[tuple[int, str], ...]:
    return tuple((0, "") if v is None else (1, v) for v in values)


def _window_index(spans: list[tuple[datetime, datetime]], ts: datetime, window_size: str) -> int:
    if window_size == "NONE":
        return 0
    step = HOUR if window_size == "HOUR" else timedelta(days=1)
    return (ts - spans[0][0]) // step
