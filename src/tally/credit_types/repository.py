from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from tally.models.catalog import credit_types as t


def _visible(tenant_id: str) -> Any:
    return or_(t.c.tenant_id == tenant_id, t.c.tenant_id.is_(None))


def get(conn: Connection, tenant_id: str, credit_type_id: str) -> Row[Any] | None:
    return conn.execute(select(t).where(_visible(tenant_id), t.c.id == credit_type_id)).first()


def find_active_by_name(conn: Connection, tenant_id: str, name: str) -> Row[Any] | None:
    return conn.execute(
        select(t).where(_visible(tenant_id), func.lower(t.c.name) == name.lower(), t.c.archived_at.is_(None))
    ).first()


def page(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[Row[Any]]:
    q = select(t).where(_visible(tenant_id), t.c.archived_at.is_(None))
    if after:
        q = q.where(t.c.id > after)
    return list(conn.execute(q.order_by(t.c.id).limit(limit + 1)).all())


def insert_custom(conn: Connection, tenant_id: str, credit_type_id: str, name: str, now: datetime) -> None:
    conn.execute(
        insert(t).values(
            id=credit_type_id,
            tenant_id=tenant_id,
            name=name,
            is_currency=False,
            currency_code=None,
            created_at=now,
        )
    )


def archive(conn: Connection, tenant_id: str, credit_type_id: str, now: datetime) -> None:
    conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.id == credit_type_id, t.c.archived_at.is_(None))
        .values(archived_at=now)
    )
