from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, cast, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB

from tally.models.customers import customer_aliases as a
from tally.models.customers import customers as t

_CHUNK = 500  # keeps IN lists well under SQLite's bound-parameter limit


def insert_customer(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(t).values(**values))


def get(conn: Connection, tenant_id: str, customer_id: str) -> Row[Any] | None:
    return conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.id == customer_id)).first()


def _salesforce_id(conn: Connection) -> ColumnElement[Any]:
    # customer_config is a JSON document stored as text; read one key the way each database can.
    if conn.dialect.name == "postgresql":
        sf: ColumnElement[Any] = cast(t.c.customer_config, JSONB)["salesforce_account_id"].astext
        return sf

    return func.json_extract(t.c.customer_config, "$.salesforce_account_id")


def page(
    conn: Connection,
    tenant_id: str,
    *,
    after: str | None,
    limit: int,
    only_archived: bool,
    ids: list[str] | None,
    alias: str | None,
    salesforce_ids: list[str] | None,
) -> list[Row[Any]]:
    q = select(t).where(t.c.tenant_id == tenant_id)
    q = q.where(t.c.archived_at.is_not(None) if only_archived else t.c.archived_at.is_(None))
    if ids is not None:
        q = q.where(t.c.id.in_(ids))
    if alias is not None:
        q = q.where(t.c.id.in_(select(a.c.customer_id).where(a.c.tenant_id == tenant_id, a.c.alias == alias)))
    if salesforce_ids is not None:
        q = q.where(_salesforce_id(conn).in_(salesforce_ids))
    if after:
        q = q.where(t.c.id > after)
    return list(conn.execute(q.order_by(t.c.id).limit(limit + 1)).all())


def search(conn: Connection, tenant_id: str, text: str, *, after: str | None, limit: int) -> list[Row[Any]]:
    """Live customers whose id, external id or an ingest alias is `text`, or whose name contains it
    (case-insensitive), in id order from `after`: one page of the tenant's (tenant_id, id) index."""
    needle = text.strip()
    q = select(t).where(t.c.tenant_id == tenant_id, t.c.archived_at.is_(None))
    if needle:
        pattern = "%" + needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(
            (t.c.id == needle)
            | (t.c.external_id == needle)
            | t.c.id.in_(select(a.c.customer_id).where(a.c.tenant_id == tenant_id, a.c.alias == needle))
            | func.lower(t.c.name).like(pattern, escape="\\")
        )
    if after:
        q = q.where(t.c.id > after)
    return list(conn.execute(q.order_by(t.c.id).limit(limit + 1)).all())


def set_fields(conn: Connection, tenant_id: str, customer_id: str, **values: Any) -> None:
    conn.execute(update(t).where(t.c.tenant_id == tenant_id, t.c.id == customer_id).values(**values))


def aliases_of(conn: Connection, tenant_id: str, customer_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in customer_ids}
    for chunk in _chunks(customer_ids):
        rows = conn.execute(
            select(a.c.customer_id, a.c.alias).where(a.c.tenant_id == tenant_id, a.c.customer_id.in_(chunk))
        )
        for r in rows:
            out[r.customer_id].append(r.alias)
    for v in out.values():
        v.sort()
    return out


def alias_owners(conn: Connection, tenant_id: str, aliases: Iterable[str]) -> dict[str, str]:
    """alias -> customer id, for those of `aliases` that are taken."""
    out: dict[str, str] = {}
    for chunk in _chunks(list(aliases)):
        rows = conn.execute(
            select(a.c.alias, a.c.customer_id).where(a.c.tenant_id == tenant_id, a.c.alias.in_(chunk))
        )
        out.update({r.alias: r.customer_id for r in rows})
    return out


def external_id_owners(conn: Connection, tenant_id: str, values: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(list(values)):
        rows = conn.execute(
            select(t.c.external_id, t.c.id).where(t.c.tenant_id == tenant_id, t.c.external_id.in_(chunk))
        )
        out.update({r.external_id: r.id for r in rows})
    return out


def existing_ids(conn: Connection, tenant_id: str, ids: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for chunk in _chunks(list(ids)):
        rows = conn.execute(select(t.c.id).where(t.c.tenant_id == tenant_id, t.c.id.in_(chunk)))
        out.update(r.id for r in rows)
    return out


def add_aliases(conn: Connection, tenant_id: str, customer_id: str, aliases: Iterable[str]) -> None:
    rows = [{"tenant_id": tenant_id, "alias": x, "customer_id": customer_id} for x in aliases]
    if rows:
        conn.execute(insert(a), rows)


def remove_aliases(conn: Connection, tenant_id: str, customer_id: str, aliases: Iterable[str]) -> None:
    for chunk in _chunks(list(aliases)):
        conn.execute(
            delete(a).where(a.c.tenant_id == tenant_id, a.c.customer_id == customer_id, a.c.alias.in_(chunk))
        )


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def archive(conn: Connection, tenant_id: str, customer_id: str, now: datetime) -> None:
    conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.id == customer_id, t.c.archived_at.is_(None))
        .values(archived_at=now, updated_at=now)
    )
