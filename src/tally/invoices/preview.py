"""`POST /v1/customers/{id}/previewEvents` (SPEC §1.7): the customer's current draft invoices as they
would be with hypothetical events. Nothing is stored.

`replace` rates only the supplied events; `merge` adds them to stored usage. Supplied transaction ids
already taken by a stored event are left out (a real ingest would drop them too); a transaction id used
twice in one request is a 400. COUNT and SUM merge exactly; for MAX the larger of the stored and
previewed maxima counts; a LATEST preview takes the latest previewed event's value; UNIQUE previews add
their own distinct counts to the stored ones (tally does not re-scan stored distinct values for a preview).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.contracts import service as contracts
from tally.customers import service as customers
from tally.errors import BadRequest
from tally.invoices import repository as repo
from tally.invoices import service
from tally.invoices.inputs import Loader
from tally.invoices.schemas import PreviewEvents
from tally.invoices.wire import invoice_wire
from tally.metering import hour_of, hour_start
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.rating import inputs as ri
from tally.rating.engine import rate_usage_invoice
from tally.rating.inputs import RatingInputError
from tally.rating.periods import Period, period_containing


def preview(
    conn: Connection, tenant_id: str, customer_id: str, req: PreviewEvents, now: datetime
) -> list[dict[str, Any]]:
    customers.get(conn, tenant_id, customer_id)
    mode = req.mode or "replace"
    if not req.events:
        raise BadRequest("events: at least one event is required")
    seen: set[str] = set()
    for i, ev in enumerate(req.events):
        if ev.transaction_id is not None:
            if ev.transaction_id in seen:
                raise BadRequest(
                    f"events[{i}].transaction_id: {ev.transaction_id!r} is used twice in this request"
                )
            seen.add(ev.transaction_id)
    taken = repo.existing_transaction_ids(conn, tenant_id, sorted(seen))
    events = [e for e in req.events if e.transaction_id is None or e.transaction_id not in taken]
    loader = Loader(conn, tenant_id)
    out = []
    for contract_row in contracts.rows_of_customer(conn, tenant_id, customer_id):
        if contract_row.archived_at is not None:
            continue
        try:
            period = period_containing(
                service._schedule(contract_row), contract_row.starting_at, service._end_of(contract_row), now
            )
        except RatingInputError:
            continue  # the contract is not running now
        contract = loader.contract(contract_row, now, period)
        records = _records(loader, contract, events, period, now)
        if mode == "merge":
            records = _merge(loader.usage(contract_row, contract, period), records, loader, contract)
        inv = rate_usage_invoice(contract, records, period)
        key = service.Key(contract_row.id, InvoiceKind.USAGE, period.starting_at, period.ending_before)
        doc = invoice_wire(
            inv,
            invoice_id=service.invoice_id(tenant_id, key, 0),
            status=InvoiceStatus.DRAFT,
            names=service.names_for(contract),
            net_payment_terms_days=contract.net_payment_terms_days,
        )
        out.append(service.skip_zero(doc) if req.skip_zero_qty_line_items else doc)
    return out


def _aggregation(
    loader: Loader, contract: ri.Contract, pid: str, at: datetime
) -> tuple[Any, tuple[str, ...]] | None:
    versions = loader.versions(pid) or []
    view = None
    for start, v in versions:
        if start <= at:
            view = v
    if view is None or not view.billable_metric_id:
        return None
    metric = loader.metric(view.billable_metric_id)
    if metric is None:
        return None
    if metric.aggregation_type == "SQL":
        # As Metronome: event previews do not support contracts using SQL billable metrics (SPEC §1.7).
        raise BadRequest(
            f"previewEvents is not supported for contracts using SQL billable metrics ({metric.id})"
        )
    group = tuple(dict.fromkeys([*(view.pricing_group_key or []), *(view.presentation_group_key or [])]))
    return metric, group


def _records(
    loader: Loader, contract: ri.Contract, events: list[Any], period: Period, now: datetime
) -> list[ri.UsageRecord]:
    sums: dict[tuple[str, datetime, Any], Decimal] = {}
    maxima: dict[tuple[str, datetime, Any], Decimal] = {}
    uniques: dict[tuple[str, datetime, Any], set[str]] = {}
    latest: dict[tuple[str, datetime, Any], tuple[datetime, str, Decimal]] = {}
    for ev in events:
        ts = ev.timestamp or now
        if not period.contains(ts):
            continue
        props = ev.properties or {}
        for pid, product in contract.products.items():
            if product.type is not ri.ProductType.USAGE:
                continue
            found = _aggregation(loader, contract, pid, ts)
            if found is None:
                continue
            metric, group = found
            c = metric.contribution(ev.event_type, props)
            if c is None:
                continue
            gv = (
                tuple(sorted(zip(group, metric.group_values_for(props, group), strict=True))) if group else ()
            )
            agg = metric.aggregation_type
            hourly = agg in ("COUNT", "SUM")
            at = hour_start(hour_of(ts)) if hourly else period.starting_at
            k = (pid, at, gv)
            if agg == "COUNT":
                sums[k] = sums.get(k, Decimal(0)) + 1
            elif agg == "SUM":
                sums[k] = sums.get(k, Decimal(0)) + (c.quantity or 0)
            elif agg == "LATEST" and c.quantity is not None:
                # The value of the latest event by (timestamp, transaction id), as ingest's rollups keep it.
                point = (ts, ev.transaction_id or "", c.quantity)
                if k not in latest or point[:2] > latest[k][:2]:
                    latest[k] = point
            elif agg == "MAX" and c.quantity is not None:
                maxima[k] = max(maxima.get(k, c.quantity), c.quantity)
            elif agg == "UNIQUE" and c.unique is not None:
                uniques.setdefault(k, set()).add(c.unique)
    out = [ri.UsageRecord(p, t, q, gv) for (p, t, gv), q in sums.items()]
    out += [ri.UsageRecord(p, t, q, gv) for (p, t, gv), q in maxima.items()]
    out += [ri.UsageRecord(p, t, Decimal(len(v)), gv) for (p, t, gv), v in uniques.items()]
    out += [ri.UsageRecord(p, t, point[2], gv) for (p, t, gv), point in latest.items()]
    return out


def _merge(
    stored: list[ri.UsageRecord], extra: list[ri.UsageRecord], loader: Loader, contract: ri.Contract
) -> list[ri.UsageRecord]:
    """Stored usage plus previewed usage; MAX records keep the larger of the two."""
    out = list(stored)
    maxed = {(r.product_id, r.timestamp, r.group_values): i for i, r in enumerate(out)}
    for r in extra:
        found = _aggregation(loader, contract, r.product_id, r.timestamp)
        if found is not None and found[0].aggregation_type == "MAX":
            i = maxed.get((r.product_id, r.timestamp, r.group_values))
            if i is not None:
                if r.quantity > out[i].quantity:
                    out[i] = r
                continue
        out.append(r)
    return out
