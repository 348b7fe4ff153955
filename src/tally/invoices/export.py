"""`tally export invoices`: one CSV row per invoice line (issue 15).

Issued invoices (FINALIZED, VOID) are streamed from their stored snapshots, `EXPORT_BATCH` rows at a time
(a server-side cursor on PostgreSQL), so memory stays bounded however many lines are exported. Drafts
(`--status DRAFT`) are rated live, one customer at a time. An invoice is in the range when its service
period ends in [from, to) (a scheduled invoice's period is its issue instant). Amounts are in the
currency's major unit (USD cents become dollars: 1234.50), custom pricing units in their own unit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import Connection, Engine, func, select

from tally.customers import service as customers
from tally.db import uow
from tally.errors import BadRequest
from tally.invoices import service
from tally.invoices.document import InvoiceDoc, parse_snapshot
from tally.invoices.inputs import Loader
from tally.invoices.render import Money
from tally.models.customers import customers as customers_table
from tally.models.invoices import InvoiceStatus, invoices
from tally.money.format import plain
from tally.wire import format_timestamp

EXPORT_BATCH = 200
STATUSES = tuple(InvoiceStatus)


def statuses(values: Iterable[str], field: str) -> tuple[InvoiceStatus, ...]:
    """The statuses asked for (case-insensitive, FINALIZED when none); a BadRequest names `field`."""
    wanted = tuple(dict.fromkeys(s.upper() for s in values if s)) or (InvoiceStatus.FINALIZED,)
    bad = [s for s in wanted if s not in STATUSES]
    if bad:
        raise BadRequest(f"{field}: {', '.join(bad)} is not one of {', '.join(STATUSES)}")
    return tuple(InvoiceStatus(s) for s in wanted)


COLUMNS = [
    "invoice_number",
    "invoice_id",
    "status",
    "customer_id",
    "customer_name",
    "contract_id",
    "period_start",
    "period_end",
    "issued_at",
    "due_date",
    "product_id",
    "line_type",
    "line_name",
    "quantity",
    "unit_price",
    "amount",
    "currency",
]


@dataclass(frozen=True)
class Query:
    tenant_id: str
    start: datetime
    end: datetime
    statuses: tuple[InvoiceStatus, ...] = (InvoiceStatus.FINALIZED,)
    customer_id: str | None = None


def _issued_filter(q: Query) -> list[Any]:
    inv = invoices.c
    where = [
        inv.tenant_id == q.tenant_id,
        inv.status.in_([s for s in q.statuses if s != InvoiceStatus.DRAFT]),
        inv.period_end >= q.start,
        inv.period_end < q.end,
        inv.snapshot.is_not(None),
    ]
    if q.customer_id is not None:
        where.append(inv.customer_id == q.customer_id)
    return where


def count_issued(conn: Connection, q: Query) -> int:
    return int(
        conn.execute(select(func.count()).select_from(invoices).where(*_issued_filter(q))).scalar_one()
    )


def _amount(money: Money, value: Decimal | None) -> str:
    if value is None:
        return ""
    d = value / money.scale
    if money.code is not None and d == d.quantize(Decimal("0.01")):
        return f"{d:.2f}"  # exact: no digit is dropped
    return plain(d)


def _lines(doc: InvoiceDoc, number: str | None, due: str | None, name: str) -> Iterator[list[str]]:
    head = [
        number or "",
        doc.id,
        doc.status,
        doc.customer_id,
        name,
        doc.contract_id,
        format_timestamp(doc.start_timestamp),
        format_timestamp(doc.end_timestamp),
        format_timestamp(doc.issued_at),
        due or "",
    ]
    for li in doc.line_items:
        money = Money(li.credit_type)
        yield [
            *head,
            li.product_id or "",
            li.type,
            li.name,
            "" if li.quantity is None else plain(li.quantity),
            _amount(money, li.unit_price),
            _amount(money, li.total),
            money.code or money.name,
        ]


def _names(conn: Connection, tenant_id: str, ids: set[str], known: dict[str, str]) -> None:
    todo = ids - known.keys()
    if todo:
        q = select(customers_table.c.id, customers_table.c.name).where(
            customers_table.c.tenant_id == tenant_id, customers_table.c.id.in_(todo)
        )
        known.update({r.id: r.name for r in conn.execute(q)})


def _issued_rows(engine: Engine, q: Query, tick: Callable[[], None]) -> Iterator[list[str]]:
    inv = invoices.c
    stmt = (
        select(inv.id, inv.customer_id, inv.status, inv.number, inv.document, inv.snapshot)
        .where(*_issued_filter(q))
        .order_by(inv.period_end, inv.id)
    )
    names: dict[str, str] = {}
    with uow.read(engine) as conn:
        result = conn.execution_options(stream_results=True, yield_per=EXPORT_BATCH).execute(stmt)
        for batch in result.partitions():
            _names(conn, q.tenant_id, {r.customer_id for r in batch}, names)
            for r in batch:
                due = (r.document or {}).get("due_date")
                doc = parse_snapshot(r.snapshot, r.status)
                yield from _lines(doc, r.number, due, names.get(r.customer_id, ""))
                tick()


def _draft_rows(engine: Engine, q: Query, now: datetime, tick: Callable[[], None]) -> Iterator[list[str]]:
    with uow.read(engine) as conn:
        if q.customer_id is not None:
            ids = [q.customer_id]
        else:
            ids = list(
                conn.execute(
                    select(customers_table.c.id)
                    .where(customers_table.c.tenant_id == q.tenant_id)
                    .order_by(customers_table.c.id)
                ).scalars()
            )
    for customer_id in ids:  # one customer at a time: a transaction and its drafts, then let go
        with uow.read(engine) as conn:
            customer = customers.get(conn, q.tenant_id, customer_id)
            loader = Loader(conn, q.tenant_id)
            for e in service.entries(conn, loader, q.tenant_id, customer_id, now):
                if e.status != InvoiceStatus.DRAFT or not (q.start <= e.key.end < q.end):
                    continue
                yield from _lines(e.view(loader, now), None, None, customer.name)
                tick()


def rows(
    engine: Engine, q: Query, now: datetime, tick: Callable[[], None] = lambda: None
) -> Iterator[list[str]]:
    """Every line row (after the header `COLUMNS`), issued invoices first, then drafts."""
    if any(s != InvoiceStatus.DRAFT for s in q.statuses):
        yield from _issued_rows(engine, q, tick)
    if InvoiceStatus.DRAFT in q.statuses:
        yield from _draft_rows(engine, q, now, tick)


def write_csv(
    engine: Engine,
    q: Query,
    out: IO[str],
    now: datetime,
    tick: Callable[[], None] = lambda: None,
) -> int:
    """Write the CSV; the number of line rows written. `tick()` after each invoice."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    for row in rows(engine, q, now, tick):
        writer.writerow(row)
        n += 1
    return n


def csv_chunks(
    engine: Engine, q: Query, now: datetime, rows_per_chunk: int = EXPORT_BATCH
) -> Iterator[bytes]:
    """The same CSV as `write_csv`, as UTF-8 chunks for a streamed download (the console's export)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    pending = 0
    for row in rows(engine, q, now):
        writer.writerow(row)
        pending += 1
        if pending >= rows_per_chunk:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
            pending = 0
    yield buf.getvalue().encode()
