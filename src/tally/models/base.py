"""The metadata every table registers on, and the column kinds the tables share.

Ids are 36-character strings (uuids), tenant-owned rows reference `tenants.id`, instants are `UtcDateTime`
and documents `JsonDoc`: each is written once here, so a table lists only what is its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, MetaData, String, Table

from tally.db.types import JsonDoc, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def key(name: str = "id") -> Column[str]:
    """The row's id as its primary key."""
    return Column(name, String(36), primary_key=True)


def ref(name: str, table: str | None = None, *, nullable: bool = False) -> Column[str]:
    """An id; with `table`, a foreign key to that table's `id`."""
    if table is None:
        return Column(name, String(36), nullable=nullable)
    return Column(name, String(36), ForeignKey(f"{table}.id"), nullable=nullable)


def tenant_ref(*, nullable: bool = False, primary_key: bool = False) -> Column[str]:
    """The owning tenant (`primary_key`: one row per tenant, or the first part of the key)."""
    if primary_key:
        return Column("tenant_id", String(36), ForeignKey("tenants.id"), primary_key=True)
    return ref("tenant_id", "tenants", nullable=nullable)


def at(name: str, *, nullable: bool = False) -> Column[datetime]:
    """An instant (aware UTC)."""
    return Column(name, UtcDateTime, nullable=nullable)


def doc(name: str, *, nullable: bool = False) -> Column[Any]:
    """A JSON document (tally's exact codec)."""
    return Column(name, JsonDoc, nullable=nullable)


def tenant_index(table: Table) -> Index:
    """`ix_<table>_tenant` on (tenant_id, id): a tenant's rows in id order."""
    return Index(f"ix_{table.name}_tenant", table.c.tenant_id, table.c.id)
