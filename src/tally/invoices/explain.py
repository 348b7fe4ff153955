"""Explain a usage line: the events behind it, and proof that they add up to its quantity (issue 14 §5).

For usage line `line_index` of an invoice, the events of the customer's ingest keys in the line's service
period (hour aligned, as rating reads usage), read through the event store seam (`usage.store`), are kept
when the line's billable metric counts them (`MetricDef.contribution`: event type and property filters,
aggregation key present) and their group values are the line's. Re-aggregating the kept events with the
metric's own accumulator (`metering.Accumulator`) gives the line's quantity; LATEST lines bill the
increase over the period, so the last value before the period is subtracted.

A finalized invoice explains exactly what it billed: only events at or below its stored events watermark
count; events of the period that arrived after it (late events) are listed apart and not counted.

A tiered line is also split by tier: the line's own tier rows, and, for the additive aggregations (COUNT
and SUM), each event's share of each tier. Events fill the tiers in the order the store returns them
(oldest first): an event whose running total goes from a to b holds the part of [a, b) that lies in each
tier, so the shares of all events add up to each tier's quantity (docs/decisions.md, "Explain").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.customers import service as customers
from tally.errors import BadRequest
from tally.invoices import service
from tally.invoices.inputs import Loader
from tally.metering import Accumulator, Contribution, MetricDef, group_sort_key, hour_of, hour_start
from tally.metering.values import string_form
from tally.money.format import plain
from tally.usage import store
from tally.usage.events import RawEvent
from tally.wire import format_timestamp, parse_timestamp

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


def _tiers(li: dict[str, Any]) -> list[Tier]:
    """The line's tier rows (its `sub_line_items`, one tier each), lowest first."""
    rows = [t for sub in li.get("sub_line_items") or [] for t in sub.get("tiers") or []]
    starts = [Decimal(str(t.get("starting_at") or 0)) for t in rows]
    return [
        Tier(
            number=i + 1,
            starting_at=starts[i],
            ending_before=starts[i + 1] if i + 1 < len(starts) else None,
            price=Decimal(str(t["price"])),
            quantity=Decimal(str(t["quantity"])),
            subtotal=Decimal(str(t["subtotal"])),
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


@dataclass
class _Split:
    acc: Accumulator = field(default_factory=Accumulator)


def _ceil_hour(t: datetime) -> datetime:
    h = hour_of(t)
    return hour_start(h) if hour_start(h) == t else hour_start(h + 1)


def _metric_of(loader: Loader, product_id: str, at: datetime) -> MetricDef:
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
    return metric


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
) -> dict[str, Any]:
    customers.get(conn, tenant_id, customer_id)
    loader = Loader(conn, tenant_id)
    entry = service.find(conn, loader, tenant_id, customer_id, invoice_id, now)
    doc = entry.materialize(loader, now)
    items = doc["line_items"]
    if not 0 <= line_index < len(items):
        raise BadRequest(f"line_index: the invoice has {len(items)} line items")
    li = items[line_index]
    if li.get("type") != "usage" or not li.get("product_id"):
        raise BadRequest("line_index: only usage lines are explained by events")
    start = parse_timestamp(li.get("starting_at") or doc["start_timestamp"], "starting_at")
    end = parse_timestamp(li.get("ending_before") or doc["end_timestamp"], "ending_before")
    metric = _metric_of(loader, li["product_id"], start)
    wanted = {**(li.get("presentation_group_values") or {}), **(li.get("pricing_group_values") or {})}
    watermark = entry.row.events_watermark if entry.row is not None and entry.status != "DRAFT" else None
    keys = loader.keys(customer_id)
    lo, hi = hour_start(hour_of(start)), _ceil_hour(end)

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

    events: Iterator[RawEvent] = iter(store.current().raw_events(conn, tenant_id, keys, lo, hi))
    total = Accumulator()
    splits: dict[tuple[str | None, ...], _Split] = {}
    page: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    matched = late_count = 0
    used = _used(metric)
    tiers = _tiers(li)
    # Per-event tier shares only where the events' running total is the line's quantity scale (COUNT and
    # SUM with no quantity conversion on the product); otherwise the line's tier rows alone are shown.
    agg = metric.aggregation_type
    per_event = bool(tiers) and agg in ADDITIVE
    running = Decimal(0)
    for ev in events:
        c = counted(ev)
        if c is None:
            continue
        if watermark is not None and ev.position > watermark:
            late_count += 1
            if len(late) < LATE_SHOWN:
                late.append(_event_doc(metric, used, ev, c))
            continue
        total.add(c, ev.timestamp, ev.transaction_id)
        g = metric.group_values(ev.properties)
        splits.setdefault(g, _Split()).acc.add(c, ev.timestamp, ev.transaction_id)
        shares = None
        if per_event:
            step = Decimal(1) if agg == "COUNT" else (c.quantity or Decimal(0))
            shares = tier_shares(tiers, running, running + step)
            running += step
        if offset <= matched < offset + limit:
            page.append(_event_doc(metric, used, ev, c, shares))
        matched += 1
    quantity = total.value(metric.aggregation_type) or Decimal(0)
    before = None
    if metric.aggregation_type == "LATEST":
        before = _latest_before(conn, tenant_id, keys, entry, lo, counted, watermark)
        quantity -= before or Decimal(0)
    line_quantity = li.get("quantity")
    if per_event and (line_quantity is None or Decimal(str(line_quantity)) != quantity):
        for ev_doc in page:  # a converted or rounded quantity: the events' scale is not the tiers'
            ev_doc["tiers"] = []
        per_event = False
    return {
        "invoice_id": doc["id"],
        "customer_id": customer_id,
        "status": doc["status"],
        "line_index": line_index,
        "line_name": li.get("name", ""),
        "product_id": li["product_id"],
        "billable_metric_id": metric.id,
        "aggregation_type": agg,
        "aggregation_key": metric.aggregation_key,
        "group_values": wanted,
        "starting_at": format_timestamp(lo),
        "ending_before": format_timestamp(hi),
        "line_quantity": li.get("quantity"),
        "credit_type": li.get("credit_type") or doc["credit_type"],
        "quantity": quantity,
        "value_before_period": before,
        "events_watermark": watermark,
        "event_count": matched,
        "events": page,
        "groups": [
            {
                "group_values": dict(zip(metric.group_properties, g, strict=True)),
                "quantity": sp.acc.value(agg) or Decimal(0),
            }
            for g, sp in sorted(splits.items(), key=lambda kv: group_sort_key(kv[0]))
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
        "late_event_count": late_count,
        "late_events": late,
        "next_offset": offset + limit if matched > offset + limit else None,
    }


def _latest_before(
    conn: Connection,
    tenant_id: str,
    keys: list[str],
    entry: service.Entry,
    lo: datetime,
    counted: Any,
    watermark: int | None,
) -> Decimal | None:
    """The metric's last value before the period, from the contract's start (LATEST bills increases)."""
    first = hour_start(hour_of(entry.crow.starting_at))
    if first >= lo:
        return None
    acc = Accumulator()
    for ev in store.current().raw_events(conn, tenant_id, keys, first, lo):
        c = counted(ev)
        if c is not None and (watermark is None or ev.position <= watermark):
            acc.add(c, ev.timestamp, ev.transaction_id)
    return acc.value("LATEST")
