"""Credit types ("pricing units"): built-in fiat currencies plus each tenant's custom pricing units.

USD is counted in cents (Metronome's "USD (cents)"); every other fiat currency in whole units (SPEC §0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from tally.credit_types import repository as repo
from tally.credit_types.builtin import USD_CENTS_ID
from tally.errors import BadRequest, Conflict, NotFound
from tally.ids import new_id

__all__ = ["USD_CENTS_ID", "CreditType", "archive", "create", "get", "page", "to_wire"]


@dataclass(frozen=True)
class CreditType:
    id: str
    name: str
    is_currency: bool
    currency_code: str | None
    archived_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> CreditType:
        return cls(row.id, row.name, bool(row.is_currency), row.currency_code, row.archived_at)


def get(conn: Connection, tenant_id: str, credit_type_id: str) -> CreditType:
    row = repo.get(conn, tenant_id, credit_type_id)
    if row is None:
        raise NotFound(f"Credit type {credit_type_id} not found")
    return CreditType.of(row)


def create(conn: Connection, tenant_id: str, name: str, now: datetime) -> str:
    if repo.find_active_by_name(conn, tenant_id, name) is not None:
        raise Conflict(f"A pricing unit named {name!r} already exists")
    credit_type_id = new_id()
    repo.insert_custom(conn, tenant_id, credit_type_id, name, now)
    return credit_type_id


def archive(conn: Connection, tenant_id: str, credit_type_id: str, now: datetime) -> None:
    ct = get(conn, tenant_id, credit_type_id)
    if ct.is_currency:
        raise BadRequest("Fiat credit types cannot be archived")
    repo.archive(conn, tenant_id, credit_type_id, now)


def page(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[CreditType]:
    return [CreditType.of(r) for r in repo.page(conn, tenant_id, after, limit)]


def to_wire(ct: CreditType) -> dict[str, Any]:
    return {"id": ct.id, "name": ct.name, "is_currency": ct.is_currency}
