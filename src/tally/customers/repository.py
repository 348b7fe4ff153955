from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Row, cast, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB

from tally.customers.schemas import Filter
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


def page(conn: Connection, tenant_id: str, f: Filter, *, after: str | None, limit: int) -> list[Row[Any]]:
    q = select(t).where(t.c.tenant_id == tenant_id)
    q = q.where(t.c.archived_at.is_not(None) if f.only_archived else t.c.archived_at.is_(None))
    if f.ids is not None:
        q = q.where(t.c.id.in_(f.ids))
    if f.alias is not None:
        q = q.where(
            t.c.id.in_(select(a.c.customer_id).where(a.c.tenant_id == tenant_id, a.c.alias == f.alias))
        )
    if f.salesforce_ids is not None:
        q = q.where(_salesforce_id(conn).in_(f.salesforce_ids))
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


def _pairs(
    conn: Connection, tenant_id: str, key: Column[str], value: Column[str], keys: Iterable[str]
) -> list[tuple[str, str]]:
    """(key, value) of the tenant's rows whose `key` is one of `keys`, read in chunks."""
    out: list[tuple[str, str]] = []
    for chunk in _chunks(list(keys)):
        rows = conn.execute(select(key, value).where(key.table.c.tenant_id == tenant_id, key.in_(chunk)))
        out.extend((r[0], r[1]) for r in rows)
    return out


def aliases_of(conn: Connection, tenant_id: str, customer_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in customer_ids}
    for customer_id, alias in _pairs(conn, tenant_id, a.c.customer_id, a.c.alias, customer_ids):
        out[customer_id].append(alias)
    for v in out.values():
        v.sort()
    return out


def alias_owners(conn: Connection, tenant_id: str, aliases: Iterable[str]) -> dict[str, str]:
    """alias -> customer id, for those of `aliases` that are taken."""
    return dict(_pairs(conn, tenant_id, a.c.alias, a.c.customer_id, aliases))


def external_id_owners(conn: Connection, tenant_id: str, values: Iterable[str]) -> dict[str, str]:
    return dict(_pairs(conn, tenant_id, t.c.external_id, t.c.id, values))


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
