"""Explain a usage line: the events behind it, and proof that they add up to its quantity (issue 14 §5).

For usage line `line_index` of an invoice, the events of the customer's ingest keys in the line's service
period (hour aligned, as rating reads usage), read through the event store seam (`usage.store`), are kept
when the line's billable metric counts them (`MetricDef.contribution`: event type and property filters,
aggregation key present) and their group values are the line's. Re-aggregating the kept events with the
metric's own accumulator (`metering.Accumulator`) gives the line's quantity; LATEST lines bill the
increase over the period, so the last value before the period is subtracted.

A finalized invoice explains exactly what it billed: only events at or below its stored events watermark
count; events of the period that arrived after it (late events) are listed apart and not counted.

Two modes (docs/console.md, "Explain this charge"):
- default (cheap, `verified: false`): the summary (quantity, split by group, event count) comes from the
  same usage rollups rating reads (`store.sums` / `latest` / `distinct_counts` over the line's hours,
  narrowed to the line's group values), and the page of events is streamed from the raw events of the
  metric's event types (filtered in SQL) in order, stopping once the page is full. Late events of a
  finalized invoice are read with a `position > watermark` filter in SQL; for COUNT and SUM their part is
  taken back out of the rollups' figures; for the other aggregations (and where the rollups cannot answer
  the line's group, e.g. a UNIQUE line whose group is no declared group key) the explanation falls back to
  the full re-aggregation below.
- `verify` (`verified: true`): every event of the period is read and re-aggregated, which proves the
  line's quantity from the events themselves.

A tiered line is also split by tier: the line's own tier rows, and, for the additive aggregations (COUNT
and SUM), each event's share of each tier. Events fill the tiers in the order the store returns them
(oldest first): an event whose running total goes from a to b holds the part of [a, b) that lies in each
tier, so the shares of all events add up to each tier's quantity (docs/decisions.md, "Explain").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Connection

from tally.customers import service as customers
from tally.errors import BadRequest
from tally.invoices import service
from tally.invoices.document import LineItem
from tally.invoices.inputs import Loader
from tally.metering import Accumulator, Contribution, MetricDef, group_sort_key, hour_of, hour_start
from tally.metering.aggregate import Latest, later
from tally.metering.values import add, string_form
from tally.models.invoices import InvoiceStatus
from tally.money.format import plain
from tally.money.rounding import round_to
from tally.rating.from_wire import product_from_wire
from tally.rating.inputs import Product
from tally.rating.results import LineType
from tally.rating.usage import convert
from tally.usage import service as usage
from tally.usage import store
from tally.usage.events import RawEvent, Span
from tally.wire import format_timestamp

LATE_SHOWN = 100
ADDITIVE = ("COUNT", "SUM")


@dataclass(frozen=True)
class Tier:
    number: int  # 1-based, as the invoice names its tier rows
    starting_at: Decimal
    ending_before: Decimal | None  # the next tier's start; None for the last tier
    price: Decimal
    quantity: Decimal
    subtotal: Decimal


def _tiers(li: LineItem) -> list[Tier]:
    """The line's tier rows (its `sub_line_items`, one tier each), lowest first."""
    rows = [t for sub in li.sub_line_items for t in sub.tiers]
    starts = [t.starting_at or Decimal(0) for t in rows]
    return [
        Tier(
            number=i + 1,
            starting_at=starts[i],
            ending_before=starts[i + 1] if i + 1 < len(starts) else None,
            price=t.price,
            quantity=t.quantity,
            subtotal=t.subtotal,
        )
        for i, t in enumerate(rows)
    ]


def tier_shares(tiers: list[Tier], before: Decimal, after: Decimal) -> list[tuple[int, Decimal]]:
    """The part of the running total's move from `before` to `after` that lies in each tier (negative when
    the total falls), as (tier number, quantity), only the tiers it touches."""
    lo, hi, sign = (before, after, 1) if after >= before else (after, before, -1)
    out = []
    for t in tiers:
        top = hi if t.ending_before is None else min(hi, t.ending_before)
        part = top - max(lo, t.starting_at)
        if part > 0:
            out.append((t.number, part * sign))
    return out


def _ceil_hour(t: datetime) -> datetime:
    h = hour_of(t)
    return hour_start(h) if hour_start(h) == t else hour_start(h + 1)


def _metric_of(loader: Loader, product_id: str, at: datetime) -> tuple[MetricDef, Product]:
    """The line product's billable metric, and the product as rating reads it (its quantity conversion
    and rounding), at the version in force at `at`."""
    versions = loader.versions(product_id)
    if not versions:
        raise BadRequest(f"line_index: product {product_id} is not a usage product")
    view = versions[0][1]
    for start, v in versions:
        if start <= at:
            view = v
    metric = loader.metric(view.billable_metric_id) if view.billable_metric_id else None
    if metric is None:
        raise BadRequest("line_index: the line's product has no billable metric")
    if metric.aggregation_type == "SQL":
        raise BadRequest("line_index: SQL billable metrics are explained by their query, not by events")
    return metric, product_from_wire({**view.spec, "id": view.id, "type": view.type})


def _in_line_units(quantity: Decimal, product: Product) -> Decimal:
    """The metric's quantity as the line bills it: the product's quantity conversion (multiply or divide
    by its factor), then its rounding, as rating applies them (tally.rating.usage)."""
    converted = convert(quantity, product)
    r = product.quantity_rounding
    return converted if r is None else round_to(converted, r.decimal_places, r.rounding_method)


def _conversion_doc(product: Product) -> dict[str, Any] | None:
    conv = product.quantity_conversion
    if conv is None:
        return None
    return {"operation": conv.operation.value, "conversion_factor": conv.conversion_factor, "name": conv.name}


def _rounding_doc(product: Product) -> dict[str, Any] | None:
    r = product.quantity_rounding
    if r is None:
        return None
    return {"rounding_method": r.rounding_method.value, "decimal_places": r.decimal_places}


def _used(metric: MetricDef) -> list[str]:
    """The event properties the metric reads: its aggregation key, filters and group keys."""
    names = [metric.aggregation_key] if metric.aggregation_key else []
    names += [f.name for f in metric.property_filters]
    names += list(metric.group_properties)
    return list(dict.fromkeys(names))


def _value(metric: MetricDef, c: Contribution) -> str | None:
    if metric.aggregation_type == "COUNT":
        return "1"
    if metric.aggregation_type == "UNIQUE":
        return c.unique
    return None if c.quantity is None else plain(c.quantity)


def _event_doc(
    metric: MetricDef,
    used: list[str],
    ev: RawEvent,
    c: Contribution,
    shares: list[tuple[int, Decimal]] | None = None,
) -> dict[str, Any]:
    return {
        "transaction_id": ev.transaction_id,
        "customer_id": ev.customer_id,
        "event_type": ev.event_type,
        "timestamp": format_timestamp(ev.timestamp),
        "properties": {k: ev.properties[k] for k in used if k in ev.properties},
        "value": _value(metric, c),
        "group_values": {p: string_form(ev.properties.get(p)) for p in metric.group_properties},
        "tiers": [{"tier": n, "quantity": q} for n, q in shares or []],
    }


def explain(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    invoice_id: str,
    line_index: int,
    *,
    offset: int,
    limit: int,
    now: datetime,
    verify: bool = False,
) -> dict[str, Any]:
    customers.get(conn, tenant_id, customer_id)
    loader = Loader(conn, tenant_id)
    entry = service.find(conn, loader, tenant_id, customer_id, invoice_id, now)
    doc = entry.view(loader, now)
    items = doc.line_items
    if not 0 <= line_index < len(items):
        raise BadRequest(f"line_index: the invoice has {len(items)} line items")
    li = items[line_index]
    if li.type is not LineType.USAGE or not li.product_id:
        raise BadRequest("line_index: only usage lines are explained by events")
    product_id = li.product_id
    start = li.starting_at or doc.start_timestamp
    end = li.ending_before or doc.end_timestamp
    metric, product = _metric_of(loader, product_id, start)
    wanted = li.group_values
    watermark = (
        entry.row.events_watermark if entry.row is not None and entry.status != InvoiceStatus.DRAFT else None
    )
    keys = loader.keys(customer_id)
    lo, hi = hour_start(hour_of(start)), _ceil_hour(end)
    # Only the event types the metric admits are read (in SQL); the rest of the filter stays in Python.
    types = sorted(metric.event_types_in) if metric.event_types_in is not None else None

    def counted(ev: RawEvent) -> Contribution | None:
        if metric.created_at is not None and ev.received_at < metric.created_at:
            return None  # streaming metrics are not retroactive (SPEC §1.6)
        c = metric.contribution(ev.event_type, ev.properties)
        if c is None:
            return None
        for k, v in wanted.items():
            if string_form(ev.properties.get(k)) != v:
                return None
        return c

    used = _used(metric)
    tiers = _tiers(li)
    agg = metric.aggregation_type
    # Per-event tier shares only where the events' running total (converted to the line's units) is the
    # line's quantity (COUNT and SUM, no rounding in the way); otherwise the line's tier rows alone are shown.
    per_event = bool(tiers) and agg in ADDITIVE
    first = hour_start(hour_of(entry.contract_row.starting_at))
    summary: _Summary | None = None
    if not verify:
        late_lo = first if agg == "LATEST" and first < lo else lo
        late = _late(conn, tenant_id, keys, late_lo, hi, types, watermark, counted, lo)
        summary = _from_rollups(conn, tenant_id, metric, keys, lo, hi, first, wanted, late)
        verify = summary is None  # the rollups cannot answer this line: prove it from the events
    if summary is None:
        summary = _reaggregate(conn, tenant_id, metric, keys, lo, hi, first, types, watermark, counted)
    page, more = _page(
        conn,
        tenant_id,
        metric,
        keys,
        lo,
        hi,
        types,
        watermark,
        counted,
        tiers,
        per_event,
        offset,
        limit,
        used,
        product,
    )
    metric_quantity = summary.quantity
    quantity = _in_line_units(metric_quantity, product)
    line_quantity = li.quantity
    unrounded = convert(metric_quantity, product)
    if per_event and (line_quantity is None or line_quantity != unrounded):
        for ev_doc in page:  # a rounded quantity: the events' running total is not the tiers' scale
            ev_doc["tiers"] = []
        per_event = False
    late_events = summary.late_events
    return {
        "invoice_id": doc.id,
        "customer_id": customer_id,
        "status": doc.status,
        "line_index": line_index,
        "line_name": li.name,
        "product_id": product_id,
        "billable_metric_id": metric.id,
        "aggregation_type": agg,
        "aggregation_key": metric.aggregation_key,
        "group_values": wanted,
        "starting_at": format_timestamp(lo),
        "ending_before": format_timestamp(hi),
        "line_quantity": li.quantity,
        "credit_type": msgspec.to_builtins(li.credit_type),
        "quantity": quantity,
        "metric_quantity": metric_quantity,
        "quantity_conversion": _conversion_doc(product),
        "quantity_rounding": _rounding_doc(product),
        "verified": verify,
        "value_before_period": summary.before,
        "events_watermark": watermark,
        "event_count": summary.count,
        "events": page,
        "groups": [
            {"group_values": dict(zip(metric.group_properties, g, strict=True)), "quantity": q}
            for g, q in sorted(summary.groups.items(), key=lambda kv: group_sort_key(kv[0]))
        ]
        if metric.group_properties
        else [],
        "tiers": [
            {
                "tier": t.number,
                "starting_at": t.starting_at,
                "ending_before": t.ending_before,
                "price": t.price,
                "quantity": t.quantity,
                "subtotal": t.subtotal,
            }
            for t in tiers
        ],
        "events_split_by_tier": per_event,
        "late_event_count": len(late_events),
        "late_events": [_event_doc(metric, used, ev, c) for ev, c in late_events[:LATE_SHOWN]],
        "next_offset": offset + limit if more else None,
    }


Counted = Callable[[RawEvent], Contribution | None]
GroupKey = tuple[str | None, ...]


@dataclass
class _Summary:
    quantity: Decimal
    groups: dict[GroupKey, Decimal]  # full group_properties values -> quantity
    count: int
    before: Decimal | None
    late_events: list[tuple[RawEvent, Contribution]]  # of the period, after the watermark, oldest first


@dataclass
class _Late:
    in_period: list[tuple[RawEvent, Contribution]]
    before_period: int  # counted late events stamped before the period (LATEST's value before it)


def _late(
    conn: Connection,
    tenant_id: str,
    keys: list[str],
    lo: datetime,
    hi: datetime,
    types: list[str] | None,
    watermark: int | None,
    counted: Counted,
    period_start: datetime,
) -> _Late:
    """The counted events stamped in [lo, hi) and logged after a finalized invoice's watermark, read with
    the position filter in SQL (few: they arrived after finalization); those before `period_start` are
    only counted."""
    out = _Late([], 0)
    if watermark is None:
        return out
    for ev in store.current().raw_events(conn, tenant_id, keys, lo, hi, types, watermark):
        c = counted(ev)
        if c is None:
            continue
        if ev.timestamp < period_start:
            out.before_period += 1
        else:
            out.in_period.append((ev, c))
    return out


def _page(
    conn: Connection,
    tenant_id: str,
    metric: MetricDef,
    keys: list[str],
    lo: datetime,
    hi: datetime,
    types: list[str] | None,
    watermark: int | None,
    counted: Counted,
    tiers: list[Tier],
    per_event: bool,
    offset: int,
    limit: int,
    used: list[str],
    product: Product | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The page [offset, offset + limit) of the counted events, oldest first, and whether more follow:
    the events are streamed and the read stops at the first event past the page. Tier shares need the
    running total before the page, summed from the events before it (bounded by offset + limit)."""
    page: list[dict[str, Any]] = []
    matched = 0
    running = Decimal(0)
    agg = metric.aggregation_type
    events = store.current().raw_events(conn, tenant_id, keys, lo, hi, types)
    try:
        for ev in events:
            c = counted(ev)
            if c is None or (watermark is not None and ev.position > watermark):
                continue
            if matched >= offset + limit:
                return page, True
            shares = None
            if per_event:
                step = Decimal(1) if agg == "COUNT" else (c.quantity or Decimal(0))
                if product is not None:
                    step = convert(step, product)  # the tiers are in the line's units
                shares = tier_shares(tiers, running, running + step)
                running += step
            if matched >= offset:
                page.append(_event_doc(metric, used, ev, c, shares))
            matched += 1
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    return page, False


def _reaggregate(
    conn: Connection,
    tenant_id: str,
    metric: MetricDef,
    keys: list[str],
    lo: datetime,
    hi: datetime,
    first: datetime,
    types: list[str] | None,
    watermark: int | None,
    counted: Counted,
) -> _Summary:
    """The proof: every counted event of the period re-aggregated with the metric's own accumulator."""
    agg = metric.aggregation_type
    total = Accumulator()
    splits: dict[GroupKey, Accumulator] = {}
    late: list[tuple[RawEvent, Contribution]] = []
    for ev in store.current().raw_events(conn, tenant_id, keys, lo, hi, types):
        c = counted(ev)
        if c is None:
            continue
        if watermark is not None and ev.position > watermark:
            late.append((ev, c))
            continue
        total.add(c, ev.timestamp, ev.transaction_id)
        splits.setdefault(metric.group_values(ev.properties), Accumulator()).add(
            c, ev.timestamp, ev.transaction_id
        )
    quantity = total.value(agg) or Decimal(0)
    before = None
    if agg == "LATEST" and first < lo:
        acc = Accumulator()
        for ev in store.current().raw_events(conn, tenant_id, keys, first, lo, types):
            c = counted(ev)
            if c is not None and (watermark is None or ev.position <= watermark):
                acc.add(c, ev.timestamp, ev.transaction_id)
        before = acc.value("LATEST")
        quantity -= before or Decimal(0)
    groups = {g: acc.value(agg) or Decimal(0) for g, acc in splits.items()}
    return _Summary(quantity, groups, total.count, before, late)


def _from_rollups(
    conn: Connection,
    tenant_id: str,
    metric: MetricDef,
    keys: list[str],
    lo: datetime,
    hi: datetime,
    first: datetime,
    wanted: dict[str, Any],
    late: _Late,
) -> _Summary | None:
    """The summary from the usage rollups rating reads, narrowed to the line's group values; None when
    the rollups cannot give exactly what the re-aggregation would (the caller then re-aggregates)."""
    agg = metric.aggregation_type
    props = metric.group_properties
    if not set(wanted) <= set(props):
        return None
    pos = {p: i for i, p in enumerate(props)}
    if late.before_period or (late.in_period and agg not in ADDITIVE):
        return None  # late events are in the rollups: only COUNT and SUM can take them back out
    ev_store = store.current()
    span = Span(hour_of(lo), hour_of(hi), None)

    def decoded(gkeys: set[str]) -> dict[str, GroupKey] | None:
        names = usage.decode_groups(conn, tenant_id, gkeys)
        if any(len(v) != len(props) for v in names.values()):
            return None  # a group the rollups cannot name
        return names

    def ours(values: GroupKey) -> bool:
        return all(values[pos[k]] == v for k, v in wanted.items())

    cells = ev_store.sums(conn, tenant_id, metric, keys, span, True)
    names = decoded({c.group_key for c in cells})
    if names is None:
        return None
    counts: dict[GroupKey, int] = {}
    totals: dict[GroupKey, Decimal] = {}
    maxima: dict[GroupKey, Decimal] = {}
    for cell in cells:
        g = names[cell.group_key]
        if not ours(g):
            continue
        counts[g] = counts.get(g, 0) + cell.count
        if cell.total is not None:
            totals[g] = add(totals.get(g, Decimal(0)), cell.total)
        if cell.maximum is not None and (g not in maxima or cell.maximum > maxima[g]):
            maxima[g] = cell.maximum
    for ev, c in late.in_period:  # COUNT and SUM: take the late events back out
        g = metric.group_values(ev.properties)
        counts[g] = counts.get(g, 0) - 1
        if c.quantity is not None:
            totals[g] = add(totals.get(g, Decimal(0)), -c.quantity)
    groups: dict[GroupKey, Decimal] = {}
    quantity = Decimal(0)
    before = None
    if agg in ("COUNT", "SUM", "MAX"):
        for g in counts:
            q = (
                Decimal(counts[g])
                if agg == "COUNT"
                else totals.get(g, Decimal(0))
                if agg == "SUM"
                else maxima.get(g, Decimal(0))
            )
            groups[g] = q
        if agg == "MAX":
            quantity = max(maxima.values(), default=Decimal(0))
        else:
            for q in groups.values():
                quantity = add(quantity, q)
    elif agg == "LATEST":
        points = _latest(conn, tenant_id, metric, keys, span, ours, decoded)
        if points is None:
            return None
        groups = {g: p[2] for g, p in points.items()}
        last: Latest | None = None
        for p in points.values():
            last = later(last, p)
        quantity = Decimal(0) if last is None else last[2]
        if first < lo:
            prior = _latest(
                conn, tenant_id, metric, keys, Span(hour_of(first), hour_of(lo), None), ours, decoded
            )
            if prior is None:
                return None
            last = None
            for p in prior.values():
                last = later(last, p)
            before = None if last is None else last[2]
            quantity -= before or Decimal(0)
    else:  # UNIQUE: distinct values are not additive; read the slice that is the line's group
        line_group = tuple(sorted(wanted))
        line = _uniques(conn, tenant_id, metric, keys, span, line_group)
        if line is None:
            return None
        quantity = line.get(tuple(wanted[k] for k in line_group), Decimal(0))
        if props:
            split = _uniques(conn, tenant_id, metric, keys, span, props)
            if split is None:
                return None
            groups = {g: n for g, n in split.items() if ours(g)}
    groups = {g: q for g, q in groups.items() if counts.get(g, 0) > 0}
    return _Summary(quantity, groups, sum(counts.values()), before, late.in_period)


def _latest(
    conn: Connection,
    tenant_id: str,
    metric: MetricDef,
    keys: list[str],
    span: Span,
    ours: Callable[[GroupKey], bool],
    decoded: Callable[[set[str]], dict[str, GroupKey] | None],
) -> dict[GroupKey, Latest] | None:
    """LATEST: the last (timestamp, transaction id, value) per group of the line, from the rollups."""
    points = store.current().latest(conn, tenant_id, metric, keys, span)
    names = decoded({p.group_key for p in points})
    if names is None:
        return None
    out: dict[GroupKey, Latest] = {}
    for p in points:
        g = names[p.group_key]
        if ours(g):
            out[g] = later(out.get(g), (p.ts, p.txn, p.value)) or (p.ts, p.txn, p.value)
    return out


def _uniques(
    conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span, group: tuple[str, ...]
) -> dict[GroupKey, Decimal] | None:
    """UNIQUE: distinct values per group of the declared group key made of the properties `group` (empty:
    the metric's total), as values in `group`'s order -> count; None when no declared group key has them."""
    index, declared = -1, tuple[str, ...]()
    if group:
        found = [i for i, gk in enumerate(metric.group_keys) if sorted(gk) == sorted(group)]
        if not found:
            return None
        index, declared = found[0], metric.group_keys[found[0]]
    rows = store.current().distinct_counts(conn, tenant_id, metric, index, keys, span)
    names = usage.decode_groups(conn, tenant_id, {r[1] for r in rows})
    at = {p: i for i, p in enumerate(declared)}
    out: dict[GroupKey, Decimal] = {}
    for _, gkey, n in rows:
        values = names[gkey]
        if len(values) != len(declared):
            return None
        g = tuple(values[at[p]] for p in group)
        out[g] = out.get(g, Decimal(0)) + n
    return out
