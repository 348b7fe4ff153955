from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tally.models.catalog import billable_metrics as t


def insert_metric(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(t).values(**values))


def get(conn: Connection, tenant_id: str, metric_id: str) -> Row[Any] | None:
    return conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.id == metric_id)).first()


def get_many(conn: Connection, tenant_id: str, ids: list[str]) -> list[Row[Any]]:
    if not ids:
        return []
    return list(conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.id.in_(ids))).all())


def page(
    conn: Connection, tenant_id: str, after: str | None, limit: int, include_archived: bool
) -> list[Row[Any]]:
    q = select(t).where(t.c.tenant_id == tenant_id)
    if not include_archived:
        q = q.where(t.c.archived_at.is_(None))
    if after:
        q = q.where(t.c.id > after)
    return list(conn.execute(q.order_by(t.c.id).limit(limit + 1)).all())


def set_name(conn: Connection, tenant_id: str, metric_id: str, name: str) -> int:
    return conn.execute(
        update(t).where(t.c.tenant_id == tenant_id, t.c.id == metric_id).values(name=name)
    ).rowcount


def archive(conn: Connection, tenant_id: str, metric_id: str, now: datetime) -> None:
    conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.id == metric_id, t.c.archived_at.is_(None))
        .values(archived_at=now)
    )
