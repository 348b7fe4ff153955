from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tally.models.catalog import product_versions as v
from tally.models.catalog import products as t


def insert_product(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(t).values(**values))


def insert_version(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(v).values(**values))


def get(conn: Connection, tenant_id: str, product_id: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(t).where(t.c.tenant_id == tenant_id, t.c.id == product_id)
    if lock:
        # Serialises concurrent updates of one product on PostgreSQL (SQLite writes are already serial).
        q = q.with_for_update()
    return conn.execute(q).first()


def get_many(conn: Connection, tenant_id: str, ids: Sequence[str]) -> list[Row[Any]]:
    if not ids:
        return []
    return list(conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.id.in_(list(ids)))).all())


def page(
    conn: Connection, tenant_id: str, after: str | None, limit: int, archive_filter: str
) -> list[Row[Any]]:
    q = select(t).where(t.c.tenant_id == tenant_id)
    if archive_filter == "NOT_ARCHIVED":
        q = q.where(t.c.archived_at.is_(None))
    elif archive_filter == "ARCHIVED":
        q = q.where(t.c.archived_at.is_not(None))
    if after:
        q = q.where(t.c.id > after)
    return list(conn.execute(q.order_by(t.c.id).limit(limit + 1)).all())


def versions(conn: Connection, tenant_id: str, product_ids: Sequence[str]) -> list[Row[Any]]:
    """Every version of the given products, ordered by product then seq."""
    if not product_ids:
        return []
    return list(
        conn.execute(
            select(v)
            .where(v.c.tenant_id == tenant_id, v.c.product_id.in_(list(product_ids)))
            .order_by(v.c.product_id, v.c.seq)
        ).all()
    )


def set_spec(conn: Connection, tenant_id: str, product_id: str, seq: int, spec: dict[str, Any]) -> None:
    conn.execute(
        update(v)
        .where(v.c.tenant_id == tenant_id, v.c.product_id == product_id, v.c.seq == seq)
        .values(spec=spec)
    )


def archive(conn: Connection, tenant_id: str, product_id: str, now: datetime) -> None:
    conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.id == product_id, t.c.archived_at.is_(None))
        .values(archived_at=now)
    )
