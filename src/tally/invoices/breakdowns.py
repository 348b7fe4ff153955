"""Invoice breakdowns (SPEC §6.10): per-window slices of USAGE invoices (tally's own and historical
imports, whose usage is the quantities they were imported with), HOUR or DAY.

A window's slice is the difference between the invoice rated on the usage up to the window's end and
on the usage up to its start (the first window of an invoice is measured against nothing, so fixed
charges land there). Tier positions therefore carry across windows, and the slices of an invoice add up
to the invoice exactly. Breakdowns reflect current usage even for finalized invoices (SPEC §1.2); for
those, what the invoice itself drew from balances is given back before recomputing. MAX and UNIQUE usage
is stamped at the start of its slice (tally.invoices.inputs), so it lands in that window; LATEST
increments are stamped at their hour, so each lands in its own window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tally.errors import BadRequest
from tally.invoices import historical, service
from tally.invoices.document import parse_snapshot
from tally.invoices.inputs import Loader
from tally.invoices.wire import line_wire, num
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.rating.engine import PreparedContracts, rate_usage_invoice
from tally.rating.periods import Period
from tally.rating.results import Invoice, LineType
from tally.wire import format_timestamp

MAX_WINDOWS = 1000
_STEP = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


@dataclass(frozen=True)
class Slot:
    entry: service.Entry
    start: datetime
    end: datetime


def credit_type_id(loader: Loader, e: service.Entry, now: datetime) -> str:
    """The credit type of a usage invoice's breakdowns: its contract's rate card currency."""
    return loader.contract(e.contract_row, now).rate_card.fiat_credit_type.id


def windows(entries: list[service.Entry], start: datetime, end: datetime, window_size: str) -> list[Slot]:
    if window_size not in _STEP:
        raise BadRequest("window_size: must be HOUR or DAY")
    if end <= start:
        raise BadRequest("ending_before: must be after starting_on")
    step = _STEP[window_size]
    if (end - start) / step > MAX_WINDOWS:
        raise BadRequest(f"ending_before: the range holds more than {MAX_WINDOWS} {window_size} windows")
    out = []
    for e in entries:
        if (
            e.key.kind not in (InvoiceKind.USAGE, InvoiceKind.HISTORICAL)
            or e.key.end <= start
            or e.key.start >= end
        ):
            continue
        t = start
        while t < end:
            lo, hi = max(t, e.key.start), min(t + step, end, e.key.end)
            if lo < hi:
                out.append(Slot(e, lo, hi))
            t += step
    return out


def _released(entry: service.Entry) -> dict[tuple[str, str], Decimal] | None:
    """What a finalized invoice drew, per (balance, segment): given back so it can be recomputed."""
    if entry.status != InvoiceStatus.FINALIZED or entry.row is None or not entry.row.snapshot:
        return None
    out: dict[tuple[str, str], Decimal] = {}
    for li in parse_snapshot(entry.row.snapshot).line_items:
        if li.type is LineType.APPLIED and li.commit_id and li.commit_segment_id:
            used = li.quantity_consumed if li.quantity_consumed is not None else -li.total
            key = (li.commit_id, li.commit_segment_id)
            out[key] = out.get(key, Decimal(0)) + used
    return out


def render(loader: Loader, slots: list[Slot], now: datetime, skip_zero: bool) -> list[dict[str, Any]]:
    """Breakdown documents for `slots` (several slots of one invoice share one usage read)."""
    cache: dict[str, tuple[Any, list[Any], dict[datetime, Invoice]]] = {}
    prepared = PreparedContracts()  # one contract is rated once per window: reuse its lookups
    out = []
    for slot in slots:
        e = slot.entry
        if e.id not in cache:
            period = Period(e.key.start, e.key.end)
            if e.key.kind == InvoiceKind.HISTORICAL and e.row is not None:
                contract, usage = historical.rating_inputs(loader, e.contract_row, e.row, now, _released(e))
            else:
                contract = loader.contract(e.contract_row, now, period, _released(e))
                usage = loader.usage(e.contract_row, contract, period)
            cache[e.id] = (contract, usage, {})
        contract, usage, rated = cache[e.id]

        def upto(
            t: datetime,
            contract: Any = contract,
            usage: list[Any] = usage,
            rated: dict[datetime, Invoice] = rated,
            key: service.Key = e.key,
        ) -> Invoice:
            if t not in rated:
                period = Period(key.start, key.end)
                rated[t] = rate_usage_invoice(
                    contract, [u for u in usage if u.timestamp < t], period, prepared=prepared
                )
            return rated[t]

        after = upto(slot.end)
        before = None if slot.start == e.key.start else upto(slot.start)
        names = service.names_for(contract)
        prev = {li.key: li for li in before.line_items} if before is not None else {}
        lines = []
        for li in after.line_items:
            p = prev.get(li.key)
            total = li.total - (p.total if p else 0)
            qty = (
                None
                if li.quantity is None
                else li.quantity - (p.quantity if p and p.quantity is not None else 0)
            )
            if total == 0 and not qty:
                continue
            if skip_zero and qty == 0:
                continue
            w = line_wire(li, names)
            w["total"] = num(total)
            if qty is not None:
                w["quantity"] = num(qty)
            w.pop("sub_line_items", None)
            lines.append(w)
        doc = e.view(loader, now) if e.status != InvoiceStatus.DRAFT else None
        out.append(
            {
                "id": e.id,
                "customer_id": e.contract_row.customer_id,
                "contract_id": e.contract_row.id,
                "type": InvoiceKind.USAGE,
                "status": e.status if doc is None else doc.status,
                "credit_type": {
                    "id": after.credit_type.id,
                    "name": names.get(after.credit_type.id, after.credit_type.name),
                },
                "start_timestamp": format_timestamp(e.key.start),
                "end_timestamp": format_timestamp(e.key.end),
                "breakdown_start_timestamp": format_timestamp(slot.start),
                "breakdown_end_timestamp": format_timestamp(slot.end),
                "subtotal": num(after.subtotal - (before.subtotal if before else 0)),
                "total": num(after.total - (before.total if before else 0)),
                "line_items": lines,
            }
        )
    return out
