from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from tally.models.catalog import credit_types as ct
from tally.models.catalog import named_schedules as ns
from tally.models.catalog import rate_card_aliases as al
from tally.models.catalog import rate_cards as t
from tally.models.catalog import rates as r

# ---------------------------------------------------------------------------------------- rate cards


def insert_card(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(t).values(**values))


def get_card(conn: Connection, tenant_id: str, card_id: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(t).where(t.c.tenant_id == tenant_id, t.c.id == card_id)
    if lock:
        # Serialises concurrent writers of one card (overlap checks, product order) on PostgreSQL.
        q = q.with_for_update()
    return conn.execute(q).first()


def page_cards(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[Row[Any]]:
    q = select(t).where(t.c.tenant_id == tenant_id, t.c.archived_at.is_(None))
    if after:
        q = q.where(t.c.id > after)
    return list(conn.execute(q.order_by(t.c.id).limit(limit + 1)).all())


def update_card(conn: Connection, tenant_id: str, card_id: str, values: dict[str, Any]) -> None:
    if values:
        conn.execute(update(t).where(t.c.tenant_id == tenant_id, t.c.id == card_id).values(**values))


def archive_card(conn: Connection, tenant_id: str, card_id: str, now: datetime) -> None:
    conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.id == card_id, t.c.archived_at.is_(None))
        .values(archived_at=now)
    )


# -------------------------------------------------------------------------------------- credit types


def credit_types(conn: Connection, tenant_id: str, ids: list[str]) -> dict[str, Row[Any]]:
    """Credit types visible to the tenant: its own plus the built-in (tenant-less) fiat currencies."""
    if not ids:
        return {}
    q = select(ct).where(ct.c.id.in_(ids), or_(ct.c.tenant_id == tenant_id, ct.c.tenant_id.is_(None)))
    return {row.id: row for row in conn.execute(q)}


# ------------------------------------------------------------------------------------------- aliases


def aliases_of(conn: Connection, tenant_id: str, card_ids: list[str]) -> list[Row[Any]]:
    if not card_ids:
        return []
    q = select(al).where(al.c.tenant_id == tenant_id, al.c.rate_card_id.in_(card_ids))
    return list(conn.execute(q.order_by(al.c.id)).all())


def insert_aliases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(al), rows)


def delete_aliases(conn: Connection, tenant_id: str, alias_ids: list[str]) -> None:
    if alias_ids:
        conn.execute(delete(al).where(al.c.tenant_id == tenant_id, al.c.id.in_(alias_ids)))


def alias_candidates(conn: Connection, tenant_id: str, name: str, at: datetime) -> list[Row[Any]]:
    """Live assignments of an alias covering `at`, most recently assigned first."""
    q = (
        select(al.c.rate_card_id)
        .join(t, t.c.id == al.c.rate_card_id)
        .where(
            al.c.tenant_id == tenant_id,
            al.c.name == name,
            or_(al.c.starting_at.is_(None), al.c.starting_at <= at),
            or_(al.c.ending_before.is_(None), al.c.ending_before > at),
            t.c.archived_at.is_(None),
        )
        .order_by(al.c.id.desc())
    )
    return list(conn.execute(q).all())


# --------------------------------------------------------------------------------------------- rates


def rates_of(
    conn: Connection, tenant_id: str, card_id: str, product_ids: list[str] | None = None
) -> list[Row[Any]]:
    q = select(r).where(r.c.tenant_id == tenant_id, r.c.rate_card_id == card_id)
    if product_ids is not None:
        q = q.where(r.c.product_id.in_(product_ids))
    return list(conn.execute(q.order_by(r.c.product_id, r.c.starting_at, r.c.id)).all())


def rates_between(
    conn: Connection, tenant_id: str, card_id: str, start: datetime, end: datetime | None
) -> list[Row[Any]]:
    """Rates whose [starting_at, ending_before) intersects [start, end)."""
    q = select(r).where(
        r.c.tenant_id == tenant_id,
        r.c.rate_card_id == card_id,
        or_(r.c.ending_before.is_(None), r.c.ending_before > start),
    )
    if end is not None:
        q = q.where(r.c.starting_at < end)
    return list(conn.execute(q).all())


def card_product_ids(conn: Connection, tenant_id: str, card_id: str) -> list[str]:
    q = (
        select(r.c.product_id)
        .where(r.c.tenant_id == tenant_id, r.c.rate_card_id == card_id)
        .distinct()
        .order_by(r.c.product_id)
    )
    return [row.product_id for row in conn.execute(q)]


def insert_rates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(r), rows)


def end_rate(conn: Connection, tenant_id: str, rate_id: str, ending_before: datetime) -> None:
    conn.execute(
        update(r).where(r.c.tenant_id == tenant_id, r.c.id == rate_id).values(ending_before=ending_before)
    )


# ----------------------------------------------------------------------------------- named schedules


def get_schedule(
    conn: Connection, tenant_id: str, owner_type: str, owner_id: str, name: str
) -> Row[Any] | None:
    q = select(ns).where(
        ns.c.tenant_id == tenant_id,
        ns.c.owner_type == owner_type,
        ns.c.owner_id == owner_id,
        ns.c.schedule_name == name,
    )
    return conn.execute(q).first()


def insert_schedule(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(ns).values(**values))


def set_segments(conn: Connection, tenant_id: str, schedule_id: str, segments: list[dict[str, Any]]) -> None:
    conn.execute(
        update(ns).where(ns.c.tenant_id == tenant_id, ns.c.id == schedule_id).values(segments=segments)
    )
