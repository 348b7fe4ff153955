"""Queries on contracts, balances (commits/credits), the edit history and the ledger. Every query filters
on tenant_id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tally.errors import Conflict
from tally.models.catalog import named_schedules as ns
from tally.models.catalog import uniqueness_keys as uk
from tally.models.contracts import balances as b
from tally.models.contracts import contract_edits as e
from tally.models.contracts import contracts as c
from tally.models.contracts import ledger_entries as le
from tally.models.invoices import InvoiceStatus, invoices

# ------------------------------------------------------------------------------------ uniqueness


def reserve_key(
    conn: Connection, tenant_id: str, scope: str, key: str, object_id: str, now: datetime
) -> None:
    """Claim a uniqueness_key; a reused key is a 409 the SDK must not retry."""
    taken = conn.execute(
        select(uk.c.object_id).where(uk.c.tenant_id == tenant_id, uk.c.scope == scope, uk.c.key == key)
    ).first()
    if taken is not None:
        raise Conflict("This uniqueness key has already been used")
    try:
        with conn.begin_nested():
            conn.execute(
                insert(uk).values(
                    tenant_id=tenant_id, scope=scope, key=key, object_id=object_id, created_at=now
                )
            )
    except IntegrityError:
        raise Conflict("This uniqueness key has already been used") from None


# ------------------------------------------------------------------------------------- contracts


def insert_contract(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(c).values(**values))


def get_contract(
    conn: Connection, tenant_id: str, contract_id: str, *, lock: bool = False
) -> Row[Any] | None:
    q = select(c).where(c.c.tenant_id == tenant_id, c.c.id == contract_id)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def get_contracts(conn: Connection, tenant_id: str, contract_ids: list[str]) -> list[Row[Any]]:
    if not contract_ids:
        return []
    return list(conn.execute(select(c).where(c.c.tenant_id == tenant_id, c.c.id.in_(contract_ids))))


def contracts_of(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    *,
    after: str | None = None,
    limit: int | None = None,
    include_archived: bool = True,
    covering: datetime | None = None,
    starting_at: datetime | None = None,
) -> list[Row[Any]]:
    q = select(c).where(c.c.tenant_id == tenant_id, c.c.customer_id == customer_id)
    if not include_archived:
        q = q.where(c.c.archived_at.is_(None))
    if covering is not None:
        q = q.where(
            c.c.starting_at <= covering, or_(c.c.ending_before.is_(None), c.c.ending_before > covering)
        )
    if starting_at is not None:
        q = q.where(c.c.starting_at >= starting_at)
    if after is not None:
        q = q.where(c.c.id > after)
    q = q.order_by(c.c.id)
    if limit is not None:
        q = q.limit(limit + 1)
    return list(conn.execute(q).all())


def active_contracts_of_tenant(conn: Connection, tenant_id: str) -> list[Row[Any]]:
    q = select(c).where(c.c.tenant_id == tenant_id, c.c.archived_at.is_(None)).order_by(c.c.id)
    return list(conn.execute(q).all())


def update_contract(conn: Connection, tenant_id: str, contract_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(c).where(c.c.tenant_id == tenant_id, c.c.id == contract_id).values(**values))


# -------------------------------------------------------------------------------------- balances


def insert_balance(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contract_id: str | None,
    doc: dict[str, Any],
    now: datetime,
    amendment_id: str | None = None,
) -> None:
    """Store a commit or credit document (already in storable form) as a balance row."""
    conn.execute(
        insert(b).values(
            id=doc["id"],
            tenant_id=tenant_id,
            customer_id=customer_id,
            contract_id=contract_id,
            kind=doc["type"],
            amendment_id=amendment_id,
            created_at=now,
            doc=doc,
        )
    )


def get_balance(conn: Connection, tenant_id: str, balance_id: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(b).where(b.c.tenant_id == tenant_id, b.c.id == balance_id)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def balances_of_contracts(conn: Connection, tenant_id: str, contract_ids: list[str]) -> list[Row[Any]]:
    if not contract_ids:
        return []
    q = select(b).where(b.c.tenant_id == tenant_id, b.c.contract_id.in_(contract_ids)).order_by(b.c.id)
    return list(conn.execute(q).all())


def balances_of_customer(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    *,
    kinds: tuple[str, ...] | None = None,
    customer_level_only: bool = False,
    after: str | None = None,
    ids: list[str] | None = None,
) -> list[Row[Any]]:
    q = select(b).where(b.c.tenant_id == tenant_id, b.c.customer_id == customer_id)
    if kinds is not None:
        q = q.where(b.c.kind.in_(kinds))
    if customer_level_only:
        q = q.where(b.c.contract_id.is_(None))
    if after is not None:
        q = q.where(b.c.id > after)
    if ids is not None:
        q = q.where(b.c.id.in_(ids))
    return list(conn.execute(q.order_by(b.c.id)).all())


def balances_of_customers(
    conn: Connection, tenant_id: str, customer_ids: list[str], *, lock: bool = False
) -> list[Row[Any]]:
    if not customer_ids:
        return []
    q = select(b).where(b.c.tenant_id == tenant_id, b.c.customer_id.in_(customer_ids)).order_by(b.c.id)
    if lock:
        # FOR NO KEY UPDATE: excludes other drawers (and manual entries, which lock FOR UPDATE) but not the
        # key-share lock a ledger-entry insert takes on its balance, so inserts never wait on a finalizer.
        q = q.with_for_update(key_share=True)
    return list(conn.execute(q).all())


def update_balance(conn: Connection, tenant_id: str, balance_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(b).where(b.c.tenant_id == tenant_id, b.c.id == balance_id).values(**values))


def delete_balance(conn: Connection, tenant_id: str, balance_id: str) -> None:
    """Only for recurring children that never started and have no ledger entries."""
    conn.execute(delete(b).where(b.c.tenant_id == tenant_id, b.c.id == balance_id))


def archive_balances(conn: Connection, tenant_id: str, contract_id: str, now: datetime) -> None:
    conn.execute(
        update(b)
        .where(b.c.tenant_id == tenant_id, b.c.contract_id == contract_id, b.c.archived_at.is_(None))
        .values(archived_at=now)
    )


# ---------------------------------------------------------------------------------- edit history


def next_seq(conn: Connection, tenant_id: str, contract_id: str) -> int:
    top = conn.execute(
        select(func.max(e.c.seq)).where(e.c.tenant_id == tenant_id, e.c.contract_id == contract_id)
    ).scalar()
    return 0 if top is None else int(top) + 1


def insert_edit(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(e).values(**values))


def edits_of(conn: Connection, tenant_id: str, contract_ids: list[str]) -> list[Row[Any]]:
    if not contract_ids:
        return []
    q = select(e).where(e.c.tenant_id == tenant_id, e.c.contract_id.in_(contract_ids))
    return list(conn.execute(q.order_by(e.c.contract_id, e.c.seq)).all())


def snapshot_at(conn: Connection, tenant_id: str, contract_id: str, at: datetime) -> Row[Any] | None:
    q = (
        select(e)
        .where(e.c.tenant_id == tenant_id, e.c.contract_id == contract_id, e.c.created_at <= at)
        .order_by(e.c.seq.desc())
        .limit(1)
    )
    return conn.execute(q).first()


# ---------------------------------------------------------------------------------------- ledger


def insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(le), rows)


def entries_of(conn: Connection, tenant_id: str, balance_ids: list[str]) -> list[Row[Any]]:
    if not balance_ids:
        return []
    q = select(le).where(le.c.tenant_id == tenant_id, le.c.balance_id.in_(balance_ids))
    return list(conn.execute(q.order_by(le.c.timestamp, le.c.id)).all())


def contract_ids_of_customer(conn: Connection, tenant_id: str, customer_id: str) -> list[str]:
    q = select(c.c.id).where(and_(c.c.tenant_id == tenant_id, c.c.customer_id == customer_id))
    return [r.id for r in conn.execute(q)]


# ------------------------------------------------------------------------------- named schedules


def schedules_of(
    conn: Connection,
    tenant_id: str,
    owner_type: str,
    owner_ids: list[str],
    name: str | None,
    after: str | None,
) -> list[Row[Any]]:
    if not owner_ids:
        return []
    q = select(ns).where(
        ns.c.tenant_id == tenant_id, ns.c.owner_type == owner_type, ns.c.owner_id.in_(owner_ids)
    )
    if name is not None:
        q = q.where(ns.c.schedule_name == name)
    if after is not None:
        q = q.where(ns.c.id > after)
    return list(conn.execute(q.order_by(ns.c.id)).all())


def last_finalized_invoice_end(conn: Connection, tenant_id: str, contract_id: str) -> datetime | None:
    """The latest period end among the contract's finalized invoices (None if it has none)."""
    i = invoices.c
    q = select(func.max(i.period_end)).where(
        i.tenant_id == tenant_id, i.contract_id == contract_id, i.status == InvoiceStatus.FINALIZED
    )
    end: datetime | None = conn.execute(q).scalar()
    return end
