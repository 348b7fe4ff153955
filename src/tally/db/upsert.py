"""INSERT … ON CONFLICT on the table's primary key, for both dialects (PostgreSQL and SQLite ≥ 3.24 share
the syntax; SQLAlchemy spells it per dialect)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

# Rows per statement: far below SQLite's 32,766 bound parameters for the tables this is used on.
CHUNK = 500


def _insert(conn: Connection, table: Table) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def _pk(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; 1 if the row was inserted (RETURNING: rowcount is not reliable for
    this statement under psycopg 3)."""
    pk = table.primary_key.columns[_pk(table)[0]]
    stmt = _insert(conn, table).values(**values).on_conflict_do_nothing().returning(pk)
    return len(conn.execute(stmt).all())


def upsert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    update: Sequence[str],
    only_if: Callable[[Any], ColumnElement[bool]] | None = None,
) -> None:
    """Insert `rows`; where a row's primary key exists, set the `update` columns from it instead, and
    only where `only_if(excluded)` holds, if given. Rows go in primary-key order, so two transactions
    upserting overlapping sets lock them in the same order and wait rather than deadlock."""
    keys = _pk(table)
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in keys))
    for i in range(0, len(ordered), CHUNK):
        stmt = _insert(conn, table).values(ordered[i : i + CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=keys,
            set_={c: stmt.excluded[c] for c in update},
            where=None if only_if is None else only_if(stmt.excluded),
        )
        conn.execute(stmt)
