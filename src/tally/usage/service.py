"""Usage queries (`/v1/usage`, `/v1/usage/groups`) and event search, read from the metering rollups.

Late binding (SPEC §1.4): rollups are keyed by the string each event carried; a customer's usage is the
usage of its id plus its CURRENT ingest aliases, resolved at query time, so adding or moving an alias
re-attributes past usage.

Decisions:
- Windows are half-open; `starting_on`/`ending_before` must be UTC midnights, `ending_before` later.
- A window without usage reports 0 for COUNT/SUM/UNIQUE and null for MAX/LATEST.
- LATEST reports the latest value inside each window (invoices bill it as deltas, SPEC §2.3).
- `/v1/usage` without `customer_ids` lists the customers with usage in the range (events whose customer
  string resolves to no customer are kept but not listed); without `billable_metrics`, every
  non-archived streaming metric. Pages hold whole (customer, metric) series, in (customer id, metric id)
  order, at most 100 series and about 1,000 windows per page.
- `groups` maps group values to usage; a null group value (property missing) is not a valid map key, so it
  only counts in `value`. `/v1/usage/groups` reports it with `group_value: null`.
- `/v1/usage/groups` lists, for each group with usage in the range, every window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.billable_metrics import service as metrics_service
from tally.billable_metrics.service import Metric
from tally.custom_fields import service as custom_fields
from tally.customers import service as customers
from tally.errors import BadRequest
from tally.kit.pagination import decode_cursor, decode_key, encode_cursor
from tally.metering import GroupValues, MetricDef, group_sort_key, hour_of, hour_start, project, windows
from tally.metering.aggregate import Latest, later
from tally.usage import keys as gk
from tally.usage import repository as repo
from tally.usage import sql_metrics, store
from tally.usage.events import EventGroup, Span
from tally.usage.schemas import GroupBy, ListUsage, ListUsageWithGroups, SearchEvents
from tally.wire import format_timestamp

MAX_WINDOWS = 10_000
SERIES_PER_PAGE = 100
ITEMS_PER_PAGE = 1_000
MAX_GROUP_VALUES = 200
_EVENT_NS = uuid.UUID("6b0c3f4e-2a59-4c3e-9d0e-7a1f3c5b9e21")


# --- aggregation cells ----------------------------------------------------------------------------------


@dataclass
class Agg:
    count: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    latest: Latest | None = None
    distinct: int = 0
    rows: int = 0  # SQL metrics: result rows folded into this cell (`count` = those with a value)

    def add_sql(self, value: Decimal | None) -> None:
        self.rows += 1
        if value is not None:
            self.count += 1
            self.total += value

    def value(self, aggregation: str) -> Decimal | None:
        if aggregation == "SQL":
            # No row: usage 0. Rows whose quantity is NULL only: null. Otherwise the sum of the rows
            # (Metronome sums the rows of group columns that are not asked for).
            return None if self.rows and not self.count else self.total
        if aggregation == "COUNT":
            return Decimal(self.count)
        if aggregation == "SUM":
            return self.total
        if aggregation == "MAX":
            return self.maximum
        if aggregation == "UNIQUE":
            return Decimal(self.distinct)
        return None if self.latest is None else self.latest[2]


Cells = dict[tuple[int, GroupValues], Agg]


def definition(metric: Metric) -> MetricDef:
    """What a stored metric means to metering: a streaming definition, or a checked SQL query whose group
    keys are its group columns (any of them, alone or together)."""
    if metric.sql is not None:
        query = sql_metrics.compiled(metric.sql)
        names = query.group_names
        keys = tuple(dict.fromkeys([*((n,) for n in names), *([names] if len(names) > 1 else [])]))
        return MetricDef(metric.id, "SQL", group_keys=keys, sql=query)
    if metric.aggregation_type is None:
        raise BadRequest(f"Billable metric {metric.id} has no aggregation")
    d = MetricDef.of(
        metric.id,
        metric.aggregation_type,
        metric.aggregation_key,
        metric.event_type_filter,
        metric.property_filters,
        metric.group_keys,
    )
    return replace(d, created_at=metric.created_at) if metric.created_at is not None else d


def _group_slice(metric: MetricDef, group: tuple[str, ...], field: str, exact: bool) -> int:
    """Which declared group key serves `group` (UNIQUE needs one; -1 = any properties will do)."""
    for i, key in enumerate(metric.group_keys):
        if set(key) == set(group) and len(key) == len(group):
            return i
    if not exact and metric.aggregation_type != "UNIQUE" and set(group) <= set(metric.group_properties):
        return -1
    names = ", ".join("[" + ", ".join(k) + "]" for k in metric.group_keys) or "none"
    raise BadRequest(
        f"{field}: {list(group)} is not a group key of billable metric {metric.id} (declared: {names})"
    )


def _decoder(conn: Connection, tenant_id: str, group_keys: set[str]) -> dict[str, GroupValues]:
    long = repo.long_groups(conn, tenant_id, [k for k in group_keys if gk.is_hashed(k)])
    out: dict[str, GroupValues] = {}
    for k in group_keys:
        if k == gk.NO_GROUP:
            out[k] = ()
        elif gk.is_hashed(k):
            out[k] = gk.decode_group(long[k]) if k in long else ()
        else:
            out[k] = gk.decode_group(k)
    return out


def decode_groups(conn: Connection, tenant_id: str, group_keys: set[str]) -> dict[str, GroupValues]:
    """The group values each rollup group key stands for (a hashed long key through its stored text)."""
    return _decoder(conn, tenant_id, group_keys)


def compute(
    conn: Connection,
    tenant_id: str,
    metric: MetricDef,
    keys_of: dict[str, list[str]],
    span: Span,
    group: tuple[str, ...] | None = None,
    slice_index: int = -1,
) -> dict[str, Cells]:
    """Usage of one metric for several customers: customer id -> (window bucket, group values) -> Agg."""
    out: dict[str, Cells] = {cid: {} for cid in keys_of}
    events_store = store.current()
    owner = {k: cid for cid, ks in keys_of.items() for k in ks}
    all_keys = list(owner)
    agg = metric.aggregation_type
    if agg == "SQL":
        return _compute_sql(conn, tenant_id, metric, keys_of, span, group)
    if agg == "UNIQUE":
        declared = metric.group_keys[slice_index] if group is not None and slice_index >= 0 else ()
        for cid, ks in keys_of.items():
            counted = events_store.distinct_counts(
                conn, tenant_id, metric, slice_index if group is not None else -1, ks, span
            )
            names = _decoder(conn, tenant_id, {r[1] for r in counted})
            for bucket, gkey, n in counted:
                values = names[gkey]
                if group is not None:
                    pos = {p: i for i, p in enumerate(declared)}
                    values = tuple(values[pos[k]] for k in group) if values else values
                out[cid][(bucket, values)] = Agg(distinct=n)
        return out
    if agg == "LATEST":
        points = events_store.latest(conn, tenant_id, metric, all_keys, span)
        names = _decoder(conn, tenant_id, {p.group_key for p in points}) if group else {}
        for p in points:
            values = project(metric, names[p.group_key], group) if group else ()
            cell = out[owner[p.customer_key]].setdefault((p.bucket, values), Agg())
            cell.count += 1
            cell.latest = later(cell.latest, (p.ts, p.txn, p.value))
        return out
    rows = events_store.sums(conn, tenant_id, metric, all_keys, span, group is not None)
    names = _decoder(conn, tenant_id, {r.group_key for r in rows}) if group else {}
    for r in rows:
        values = project(metric, names[r.group_key], group) if group else ()
        cell = out[owner[r.customer_key]].setdefault((r.bucket, values), Agg())
        cell.count += r.count
        if r.total is not None:
            cell.total += r.total
        if r.maximum is not None and (cell.maximum is None or r.maximum > cell.maximum):
            cell.maximum = r.maximum
    return out


def _compute_sql(
    conn: Connection,
    tenant_id: str,
    metric: MetricDef,
    keys_of: dict[str, list[str]],
    span: Span,
    group: tuple[str, ...] | None,
) -> dict[str, Cells]:
    """SQL metrics: the event store runs the query once per customer over the whole span, one result row
    per (window bucket, group columns); rows of group columns not asked for are summed."""
    query = metric.sql
    pos = {n: i for i, n in enumerate(query.group_names)}
    picks = [pos[k] for k in group or ()]
    scope_start, scope_end = hour_start(span.first), hour_start(span.end)
    out: dict[str, Cells] = {cid: {} for cid in keys_of}
    for cid, ks in keys_of.items():
        if not ks:
            continue
        scope = sql_metrics.Scope(
            tenant_id,
            tuple(ks),
            scope_start,
            scope_end,
            span.first * 3600,
            None if span.width is None else span.width * 3600,
        )
        for row in store.current().sql_rows(conn, metric.id, query, scope):
            values = tuple(row.group[i] for i in picks) if group else ()
            out[cid].setdefault((row.bucket, values), Agg()).add_sql(row.value)
    return out


# --- shared request checks ------------------------------------------------------------------------------


def _midnight(ts: datetime, field: str) -> datetime:
    if ts.hour or ts.minute or ts.second or ts.microsecond:
        raise BadRequest(f"{field}: must be aligned to UTC midnight, e.g. 2024-01-01T00:00:00Z")
    return ts


def _span(start: datetime, end: datetime, window_size: str) -> tuple[Span, list[tuple[datetime, datetime]]]:
    _midnight(start, "starting_on")
    _midnight(end, "ending_before")
    if end <= start:
        raise BadRequest("ending_before: must be at least one day after starting_on")
    step = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}.get(window_size)
    if step is not None and (end - start) // step > MAX_WINDOWS:
        raise BadRequest(f"window_size: the range holds more than {MAX_WINDOWS} {window_size} windows")
    width = {"HOUR": 1, "DAY": 24}.get(window_size)
    return Span(hour_of(start), hour_of(end), width), windows(start, end, window_size)


# --- POST /v1/usage -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selected:
    metric: Metric
    definition: MetricDef
    group_by: GroupBy | None


def _selected_metrics(conn: Connection, tenant_id: str, req: ListUsage) -> list[Selected]:
    if req.billable_metrics is None:
        rows = metrics_service.page(conn, tenant_id, None, 10_000, include_archived=False)
        return [Selected(m, definition(m), None) for m in rows]
    found = metrics_service.get_many(conn, tenant_id, [s.id for s in req.billable_metrics])
    chosen: dict[str, Selected] = {}
    for i, sel in enumerate(req.billable_metrics):
        metric = found.get(sel.id)
        if metric is None:
            metrics_service.get(conn, tenant_id, sel.id)  # raises the usual 404
            continue
        d = definition(metric)
        if sel.group_by is not None:
            _group_slice(d, (sel.group_by.key,), f"billable_metrics[{i}].group_by.key", exact=False)
        if sel.id in chosen:
            raise BadRequest(f"billable_metrics[{i}].id: {sel.id} is listed twice")
        chosen[sel.id] = Selected(metric, d, sel.group_by)
    return [chosen[k] for k in sorted(chosen)]


def _usage_cursor(cursor: str | None) -> tuple[str, str] | None:
    key = decode_key(cursor, str, str)
    return None if key is None else (key[0], key[1])


def list_usage(
    conn: Connection, tenant_id: str, req: ListUsage, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    after = _usage_cursor(cursor)
    span, spans = _span(req.starting_on, req.ending_before, req.window_size)
    selected = _selected_metrics(conn, tenant_id, req)
    keys_of: dict[str, list[str]] = {}
    if req.customer_ids is not None:
        keys_of = customers.ingest_keys_many(conn, tenant_id, req.customer_ids)  # 404 for unknown ids
    else:
        used = store.current().customer_keys_with_usage(
            conn, tenant_id, [s.definition for s in selected], span
        )
        for key, cid in customers.resolve_keys(conn, tenant_id, used).items():
            keys_of.setdefault(cid, []).append(key)
    series = [(cid, s) for cid in sorted(keys_of) for s in selected]
    if after is not None:
        series = [(c, s) for c, s in series if (c, s.metric.id) > after]
    per_page = max(1, min(SERIES_PER_PAGE, ITEMS_PER_PAGE // len(spans)))
    page, more = series[:per_page], len(series) > per_page
    items: list[dict[str, Any]] = []
    for sel in selected:
        cids = [c for c, s in page if s is sel]
        if not cids:
            continue
        subset = {c: keys_of[c] for c in cids}
        totals = compute(conn, tenant_id, sel.definition, subset, span)
        grouped: dict[str, Cells] = {}
        if sel.group_by is not None:
            group = (sel.group_by.key,)
            slice_index = _group_slice(sel.definition, group, "group_by.key", exact=False)
            grouped = compute(conn, tenant_id, sel.definition, subset, span, group, slice_index)
        for cid in cids:
            items.extend(_series_items(sel, cid, spans, totals[cid], grouped.get(cid)))
    order = {(c, s.metric.id): i for i, (c, s) in enumerate(page)}
    items.sort(key=lambda it: (order[(it["customer_id"], it["billable_metric_id"])], it["start_timestamp"]))
    nxt = encode_cursor([page[-1][0], page[-1][1].metric.id]) if more and page else None
    return items, nxt


def _series_items(
    sel: Selected, cid: str, spans: list[tuple[datetime, datetime]], totals: Cells, grouped: Cells | None
) -> list[dict[str, Any]]:
    agg = sel.definition.aggregation_type
    empty = Agg()
    names: list[str] = []
    if grouped is not None and sel.group_by is not None:
        if sel.group_by.values is not None:
            names = list(dict.fromkeys(sel.group_by.values))
        else:
            seen = {g[0] for (_, g) in grouped if g and g[0] is not None}
            names = sorted(seen)[:MAX_GROUP_VALUES]
    out = []
    for i, (start, end) in enumerate(spans):
        item: dict[str, Any] = {
            "billable_metric_id": sel.metric.id,
            "billable_metric_name": sel.metric.name,
            "customer_id": cid,
            "start_timestamp": format_timestamp(start),
            "end_timestamp": format_timestamp(end),
            "value": totals.get((i, ()), empty).value(agg),
        }
        if grouped is not None:
            groups: dict[str, Decimal | None] = {}
            for name in names:
                cell = grouped.get((i, (name,)))
                groups[name] = None if cell is None else cell.value(agg)
            item["groups"] = groups
        out.append(item)
    return out


# --- POST /v1/usage/groups ------------------------------------------------------------------------------


def _groups_cursor(cursor: str | None) -> tuple[int, tuple[tuple[int, str], ...]] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    ok = (
        isinstance(key, list)
        and len(key) == 2
        and type(key[0]) is int
        and isinstance(key[1], list)
        and all(v is None or isinstance(v, str) for v in key[1])
    )
    if not ok:
        raise BadRequest("next_page: invalid cursor")
    return key[0], group_sort_key(tuple(key[1]))


def list_groups(
    conn: Connection, tenant_id: str, req: ListUsageWithGroups, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    after = _groups_cursor(cursor)
    if req.current_period:
        if req.starting_on is not None or req.ending_before is not None:
            raise BadRequest("current_period: cannot be combined with starting_on or ending_before")
        raise BadRequest(
            "current_period: the customer has no active plan; pass starting_on and ending_before instead"
        )
    if req.starting_on is None or req.ending_before is None:
        missing = "starting_on" if req.starting_on is None else "ending_before"
        raise BadRequest(f"{missing}: required unless current_period is true")
    if req.group_by is not None and req.group_key is not None:
        raise BadRequest("group_key: cannot be used together with group_by")
    span, spans = _span(req.starting_on, req.ending_before, req.window_size)
    metric = metrics_service.get(conn, tenant_id, req.billable_metric_id)
    metric_def = definition(metric)
    keys = customers.ingest_keys(conn, tenant_id, req.customer_id)
    group: tuple[str, ...] | None = None
    slice_index = -1
    filters: dict[str, set[str]] = {}
    if req.group_key is not None:
        if len(set(req.group_key)) != len(req.group_key):
            raise BadRequest("group_key: a key is repeated")
        group = tuple(req.group_key)
        slice_index = _group_slice(metric_def, group, "group_key", exact=True)
    elif req.group_by is not None:
        group = (req.group_by.key,)
        slice_index = _group_slice(metric_def, group, "group_by.key", exact=False)
        if req.group_by.values:
            filters[req.group_by.key] = set(req.group_by.values)
    if req.group_filters:
        if sum(len(v) for v in req.group_filters.values()) > MAX_GROUP_VALUES:
            raise BadRequest(f"group_filters: at most {MAX_GROUP_VALUES} values in total")
        for k, values in req.group_filters.items():
            if group is None or k not in group:
                raise BadRequest(f"group_filters: {k!r} is not one of the keys in group_key")
            if values:
                filters[k] = set(values)
    cells = compute(conn, tenant_id, metric_def, {req.customer_id: keys}, span, group, slice_index)[
        req.customer_id
    ]
    agg = metric_def.aggregation_type
    if group is None:
        combos: list[GroupValues] = [()]
    else:
        pos = {k: i for i, k in enumerate(group)}
        seen = {g for (_, g) in cells}
        combos = sorted(
            (g for g in seen if all(g[pos[k]] in allowed for k, allowed in filters.items())),
            key=group_sort_key,
        )
    items: list[dict[str, Any]] = []
    nxt = None
    for i, (start, end) in enumerate(spans):
        if after is not None and i < after[0]:
            continue
        for combo in combos:
            if after is not None and (i, group_sort_key(combo)) <= after:
                continue
            if len(items) == limit:
                last = items[-1]["_key"]
                nxt = encode_cursor([last[0], list(last[1])])
                break
            cell = cells.get((i, combo))
            item: dict[str, Any] = {
                "_key": (i, combo),
                "starting_on": format_timestamp(start),
                "ending_before": format_timestamp(end),
                "value": (cell or Agg()).value(agg),
            }
            if group is not None:
                item["group"] = {k: v for k, v in zip(group, combo, strict=True) if v is not None}
                if len(group) == 1:
                    item["group_key"] = group[0]
                    item["group_value"] = combo[0]
            items.append(item)
        if nxt is not None:
            break
    for item in items:
        del item["_key"]
    return items, nxt


# --- POST /v1/events/search -----------------------------------------------------------------------------


def event_id(tenant_id: str, transaction_id: str) -> str:
    """Stored events are keyed by transaction id; their public id is derived from it, stably."""
    return str(uuid.uuid5(_EVENT_NS, f"{tenant_id}\x00{transaction_id}"))


def search(conn: Connection, tenant_id: str, req: SearchEvents) -> list[dict[str, Any]]:
    """Stored events by transaction id. Only the first accepted event of an id is stored (later ones are
    acknowledged as duplicates and dropped), so every result has `is_duplicate: false`."""
    wanted = list(dict.fromkeys(req.transactionIds))
    rows = {r.transaction_id: r for r in repo.events_by_transaction(conn, tenant_id, wanted)}
    if not rows:
        return []
    owners = customers.resolve_keys(conn, tenant_id, sorted({r.customer_id for r in rows.values()}))
    names = {cid: customers.get(conn, tenant_id, cid).name for cid in set(owners.values())}
    streaming = [(Metric.of(r), r.created_at) for r in repo.streaming_metric_rows(conn, tenant_id)]
    defs = {m.id: definition(m) for m, _ in streaming}
    custom = custom_fields.values_for(conn, tenant_id, metrics_service.ENTITY, [m.id for m, _ in streaming])
    out = []
    for tid in wanted:
        row = rows.get(tid)
        if row is None:
            continue
        matched = [
            metrics_service.to_wire(m, custom[m.id])
            for m, created in streaming
            # Not retroactive (SPEC §1.6): a metric counts an event only if it existed at ingest.
            if created <= row.received_at
            and defs[m.id].contribution(row.event_type, row.properties) is not None
        ]
        item: dict[str, Any] = {
            "id": event_id(tenant_id, tid),
            "transaction_id": tid,
            "customer_id": row.customer_id,
            "event_type": row.event_type,
            "timestamp": format_timestamp(row.timestamp),
            "properties": row.properties,
            "processed_at": format_timestamp(row.received_at),
            "is_duplicate": False,
            "matched_billable_metrics": matched,
        }
        cid = owners.get(row.customer_id)
        if cid is not None:
            item["matched_customer"] = {"id": cid, "name": names[cid]}
        out.append(item)
    return out


# --- unmatched events (the console's /ui/events) --------------------------------------------------------

MAX_EVENT_TYPES = 1_000  # event types looked at for "no billable metric admits it"


@dataclass(frozen=True)
class UnknownKeys:
    """A page of customer keys that name no customer, each with its groups per event type."""

    keys: list[str]
    groups: list[EventGroup]
    next_after: str | None  # the last key of this page when there are more


def unknown_keys_page(conn: Connection, tenant_id: str, after: str, limit: int) -> UnknownKeys:
    """Events whose customer key maps to no customer (not a customer id, not a current ingest alias),
    `limit` keys to a page in key order, after the key `after` ("" for the first page). Such events are
    kept; they count as soon as a customer or an alias with that key exists (late binding, SPEC §1.4)."""
    keys = repo.unknown_customer_keys(conn, tenant_id, after, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    return UnknownKeys(keys, repo.groups_of_keys(conn, tenant_id, keys), keys[-1] if more and keys else None)


def _admits(metric: MetricDef, event_type: str) -> bool:
    """Whether the metric's event type filter lets events of this type through (its property filters
    may still turn some of them away)."""
    if metric.event_types_in is not None and event_type not in metric.event_types_in:
        return False
    return metric.event_types_not_in is None or event_type not in metric.event_types_not_in


@dataclass(frozen=True)
class UnmatchedTypes:
    """Event types that no billable metric admits, and a page of their (event type, customer key) groups."""

    types: list[str]
    groups: list[EventGroup]
    next_after: tuple[str, str] | None


def unmatched_types_page(
    conn: Connection, tenant_id: str, after: tuple[str, str] | None, limit: int
) -> UnmatchedTypes:
    """Events of a type that no billable metric's event type filter admits (archived metrics included:
    they still meter), grouped by (event type, customer key). A SQL metric may count any event type, so
    with one the list is empty. Events of an admitted type that a metric's property filters turn away are
    not listed here: look one up by transaction id to see which metrics matched it."""
    if repo.has_sql_metric(conn, tenant_id):
        return UnmatchedTypes([], [], None)
    defs = [definition(Metric.of(r)) for r in repo.streaming_metric_rows(conn, tenant_id)]
    types = [
        t for t in repo.event_types(conn, tenant_id, MAX_EVENT_TYPES) if not any(_admits(d, t) for d in defs)
    ]
    groups = repo.groups_of_types(conn, tenant_id, types, after, limit + 1)
    more = len(groups) > limit
    groups = groups[:limit]
    last = groups[-1] if more and groups else None
    return UnmatchedTypes(types, groups, (last.event_type, last.customer_key) if last else None)
