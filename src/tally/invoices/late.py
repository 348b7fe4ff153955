"""Late events (SPEC §1.2, PROMISES P4/P9): events stamped inside the period of a FINALIZED usage invoice
that arrived after it was finalized. They never change that invoice; they are listed here
(`POST /tally/v1/late-events/list`), so `billed + late == stored` can be checked.

An event is late when its position in the event log is above the invoice's events watermark, taken
while finalizing under the late-data gate (usage.late_gate), so every stored event of the period is
either billed by the invoice or listed here, never both. Nothing extra is written at ingest: the event
row and the invoice row together are the record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tally.customers import service as customers
from tally.errors import NotFound
from tally.invoices import repository as repo
from tally.invoices.schemas import ListLateEvents
from tally.kit.pagination import DEFAULT_LIMIT, decode_key, encode_cursor
from tally.models.invoices import InvoiceKind
from tally.wire import format_timestamp, parse_timestamp


def page(conn: Connection, tenant_id: str, req: ListLateEvents) -> tuple[list[dict[str, Any]], str | None]:
    keys = customers.ingest_keys(conn, tenant_id, req.customer_id)
    invoices = [
        r
        for r in repo.of_customer(conn, tenant_id, req.customer_id)
        if r.kind == InvoiceKind.USAGE
        and r.finalized_at is not None
        and (req.invoice_id is None or r.id == req.invoice_id)
    ]
    if req.invoice_id is not None and not invoices:
        raise NotFound(f"Finalized invoice {req.invoice_id} not found")
    invoices.sort(key=lambda r: (r.period_start, r.id))
    cursor = decode_key(req.next_page, str, str, str)
    limit = req.limit or DEFAULT_LIMIT
    out: list[dict[str, Any]] = []
    more = False
    for inv in invoices:
        after = None
        if cursor is not None:
            if inv.id != cursor[0] and not _after_invoice(inv, invoices, cursor[0]):
                continue
            if inv.id == cursor[0]:
                after = (parse_timestamp(cursor[1], "next_page"), cursor[2])
        rows = repo.late_events(conn, tenant_id, keys, inv, limit - len(out) + 1, after)
        for r in rows:
            if len(out) == limit:
                more = True
                break
            out.append(
                {
                    "invoice_id": inv.id,
                    "transaction_id": r.transaction_id,
                    "customer_id": r.customer_id,
                    "event_type": r.event_type,
                    "timestamp": format_timestamp(r.timestamp),
                    "received_at": format_timestamp(r.received_at),
                    "properties": r.properties,
                }
            )
        if more:
            break
    nxt = None
    if more and out:
        last = out[-1]
        nxt = encode_cursor([last["invoice_id"], last["timestamp"], last["transaction_id"]])
    return out, nxt


def late_for(
    conn: Connection, tenant_id: str, customer_id: str, transaction_id: str, timestamp: datetime
) -> str | None:
    """The finalized usage invoice of this customer whose period holds the event and that the event
    arrived too late for (listed by `page` under that invoice), or None when it was billed or its period
    is not finalized."""
    for inv in repo.of_customer(conn, tenant_id, customer_id):
        if (
            inv.kind == InvoiceKind.USAGE
            and inv.finalized_at is not None
            and inv.period_start <= timestamp < inv.period_end
            and repo.is_late_event(conn, tenant_id, transaction_id, inv)
        ):
            return str(inv.id)
    return None


def _after_invoice(inv: Any, invoices: list[Any], cursor_id: str) -> bool:
    ids = [i.id for i in invoices]
    return cursor_id in ids and ids.index(inv.id) > ids.index(cursor_id)
