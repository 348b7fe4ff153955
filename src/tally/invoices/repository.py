"""Invoice rows, billing progress, tenant invoice settings and the contract rows billing scans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select, update

from tally.db.upsert import insert_ignore, upsert_many
from tally.models.contracts import contract_edits, contracts
from tally.models.events import events
from tally.models.invoices import InvoiceKind, InvoiceStatus, billing_state, invoices
from tally.models.tenants import tenants
from tally.usage import late_gate

INV = invoices.c


# ---------------------------------------------------------------------------------------- invoices


def key_filter(tenant_id: str, contract_id: str, kind: InvoiceKind, start: datetime, end: datetime) -> Any:
    return and_(
        INV.tenant_id == tenant_id,
        INV.contract_id == contract_id,
        INV.kind == kind,
        INV.period_start == start,
        INV.period_end == end,
    )


def rows_of_key(
    conn: Connection, tenant_id: str, contract_id: str, kind: InvoiceKind, start: datetime, end: datetime
) -> list[Row[Any]]:
    q = select(invoices).where(key_filter(tenant_id, contract_id, kind, start, end)).order_by(INV.void_seq)
    return list(conn.execute(q))


def insert_new(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert a row unless its key already has a live row (unique index); True if inserted."""
    return insert_ignore(conn, invoices, values) == 1


def live_row(
    conn: Connection,
    tenant_id: str,
    contract_id: str,
    kind: InvoiceKind,
    start: datetime,
    end: datetime,
    *,
    claim: bool,
) -> Row[Any] | None:
    """The live (void_seq 0) row. With claim, lock it; on PostgreSQL skip it if another worker holds it."""
    q = select(invoices).where(key_filter(tenant_id, contract_id, kind, start, end), INV.void_seq == 0)
    if claim:
        q = q.with_for_update(skip_locked=True)
    return conn.execute(q).first()


def finalize(
    conn: Connection,
    tenant_id: str,
    invoice_id: str,
    snapshot: str,
    content_hash: str,
    now: datetime,
    watermark: int | None = None,
) -> bool:
    """DRAFT -> FINALIZED exactly once: the WHERE clause makes every other attempt a no-op."""
    result = conn.execute(
        update(invoices)
        .where(INV.tenant_id == tenant_id, INV.id == invoice_id, INV.status == InvoiceStatus.DRAFT)
        .values(
            status=InvoiceStatus.FINALIZED,
            snapshot=snapshot,
            content_hash=content_hash,
            finalized_at=now,
            events_watermark=watermark,
        )
    )
    return result.rowcount == 1


def void(
    conn: Connection,
    tenant_id: str,
    invoice_id: str,
    void_seq: int,
    now: datetime,
    snapshot: str | None,
    content_hash: str | None,
) -> bool:
    values: dict[str, Any] = {"status": InvoiceStatus.VOID, "void_seq": void_seq, "voided_at": now}
    if snapshot is not None:
        values |= {"snapshot": snapshot, "content_hash": content_hash}
    result = conn.execute(
        update(invoices)
        .where(INV.tenant_id == tenant_id, INV.id == invoice_id, INV.status != InvoiceStatus.VOID)
        .values(**values)
    )
    return result.rowcount == 1


def insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(invoices.insert().values(**values))


def get(conn: Connection, tenant_id: str, invoice_id: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(invoices).where(INV.tenant_id == tenant_id, INV.id == invoice_id)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def of_customer(conn: Connection, tenant_id: str, customer_id: str) -> list[Row[Any]]:
    q = select(invoices).where(INV.tenant_id == tenant_id, INV.customer_id == customer_id)
    return list(conn.execute(q))


def of_contracts(conn: Connection, tenant_id: str, contract_ids: list[str]) -> list[Row[Any]]:
    if not contract_ids:
        return []
    q = select(INV.contract_id, INV.kind, INV.period_start, INV.period_end, INV.status, INV.void_seq).where(
        INV.tenant_id == tenant_id, INV.contract_id.in_(contract_ids)
    )
    return list(conn.execute(q))


def of_kind(conn: Connection, tenant_id: str, contract_id: str, kind: InvoiceKind) -> list[Row[Any]]:
    """Every invoice row of one kind on a contract (request-issued kinds: their snapshots and inputs)."""
    q = select(invoices).where(INV.tenant_id == tenant_id, INV.contract_id == contract_id, INV.kind == kind)
    return list(conn.execute(q.order_by(INV.period_start, INV.id)))


def regenerated_from(conn: Connection, tenant_id: str, invoice_id: str) -> Row[Any] | None:
    q = select(invoices).where(INV.tenant_id == tenant_id, INV.regenerated_from_invoice_id == invoice_id)
    return conn.execute(q.limit(1)).first()


def max_void_seq(
    conn: Connection, tenant_id: str, contract_id: str, kind: InvoiceKind, start: datetime, end: datetime
) -> int:
    q = select(func.max(INV.void_seq)).where(key_filter(tenant_id, contract_id, kind, start, end))
    return int(conn.execute(q).scalar() or 0)


# ------------------------------------------------------------------------------------ billing state


def untracked_or_edited(conn: Connection, limit: int) -> list[Row[Any]]:
    """Contracts without billing state, or edited since their schedule was computed."""
    latest = (
        select(contract_edits.c.contract_id, func.max(contract_edits.c.seq).label("seq"))
        .group_by(contract_edits.c.contract_id)
        .subquery()
    )
    q = (
        select(contracts.c.id, contracts.c.tenant_id, func.coalesce(latest.c.seq, 0).label("seq"))
        .select_from(contracts)
        .outerjoin(latest, latest.c.contract_id == contracts.c.id)
        .outerjoin(billing_state, billing_state.c.contract_id == contracts.c.id)
        .where(
            (billing_state.c.contract_id.is_(None))
            | (billing_state.c.synced_seq < func.coalesce(latest.c.seq, 0))
        )
        .limit(limit)
    )
    return list(conn.execute(q))


def track_states(conn: Connection, todo: list[Row[Any]], now: datetime) -> None:
    """Mark contracts (rows of `untracked_or_edited`) due now at the edit seq they were read at; a row
    already synced from a newer edit is left alone."""
    upsert_many(
        conn,
        billing_state,
        [
            {
                "contract_id": t.id,
                "tenant_id": t.tenant_id,
                "next_due_at": now,
                "synced_seq": int(t.seq),
                "updated_at": now,
            }
            for t in todo
        ],
        update=("next_due_at", "synced_seq", "updated_at"),
        only_if=lambda new: billing_state.c.synced_seq <= new.synced_seq,
    )


def claim_due(conn: Connection, now: datetime, limit: int) -> list[Row[Any]]:
    """Contracts with work due, locked; other PostgreSQL workers skip them (SKIP LOCKED)."""
    q = (
        select(billing_state)
        .where(billing_state.c.next_due_at.is_not(None), billing_state.c.next_due_at <= now)
        .order_by(billing_state.c.next_due_at, billing_state.c.contract_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(conn.execute(q))


def set_next_due(conn: Connection, due: dict[str, datetime | None], now: datetime) -> None:
    """Store each contract's next due time (None: nothing more falls due), in one batched statement."""
    if not due:
        return
    conn.execute(
        update(billing_state)
        .where(billing_state.c.contract_id == bindparam("cid"))
        .values(next_due_at=bindparam("due"), updated_at=now),
        [{"cid": cid, "due": at} for cid, at in due.items()],
    )


def due_backlog(conn: Connection, now: datetime) -> tuple[int, datetime | None]:
    """How many contracts have work due at `now`, and the oldest due time among them."""
    row = conn.execute(
        select(func.count(), func.min(billing_state.c.next_due_at)).where(
            billing_state.c.next_due_at.is_not(None), billing_state.c.next_due_at <= now
        )
    ).one()
    return int(row[0]), row[1]


def next_due(conn: Connection) -> datetime | None:
    return conn.execute(select(func.min(billing_state.c.next_due_at))).scalar()


# ------------------------------------------------------------------------------------------ tenants


def tenant_settings(conn: Connection, tenant_id: str) -> dict[str, Any]:
    row = conn.execute(select(tenants.c.settings).where(tenants.c.id == tenant_id)).first()
    return dict(row.settings) if row and row.settings else {}


def set_tenant_settings(conn: Connection, tenant_id: str, settings: dict[str, Any]) -> None:
    conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(settings=settings))


# ------------------------------------------------------------------------------------------- events


def late_events(
    conn: Connection,
    tenant_id: str,
    keys: list[str],
    invoice: Row[Any],
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Row[Any]]:
    """Events stamped in the period of a finalized USAGE invoice that its usage did not include: above its
    events watermark (late_gate); invoices finalized before watermarks existed fall back to arrival
    time."""
    late = (
        late_gate.position(conn) > invoice.events_watermark
        if invoice.events_watermark is not None
        else events.c.received_at >= invoice.finalized_at
    )
    q = select(events).where(
        events.c.tenant_id == tenant_id,
        events.c.customer_id.in_(keys),
        events.c.timestamp >= invoice.period_start,
        events.c.timestamp < invoice.period_end,
        late,
    )
    if after is not None:
        q = q.where(
            (events.c.timestamp > after[0])
            | ((events.c.timestamp == after[0]) & (events.c.transaction_id > after[1]))
        )
    return list(conn.execute(q.order_by(events.c.timestamp, events.c.transaction_id).limit(limit)))


def is_late_event(conn: Connection, tenant_id: str, transaction_id: str, invoice: Row[Any]) -> bool:
    """Whether the event arrived too late for this finalized USAGE invoice (as `late_events` decides)."""
    late = (
        late_gate.position(conn) > invoice.events_watermark
        if invoice.events_watermark is not None
        else events.c.received_at >= invoice.finalized_at
    )
    q = select(events.c.transaction_id).where(
        events.c.tenant_id == tenant_id, events.c.transaction_id == transaction_id, late
    )
    return conn.execute(q).first() is not None


def existing_transaction_ids(conn: Connection, tenant_id: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    q = select(events.c.transaction_id).where(
        events.c.tenant_id == tenant_id, events.c.transaction_id.in_(ids)
    )
    return {r[0] for r in conn.execute(q)}
