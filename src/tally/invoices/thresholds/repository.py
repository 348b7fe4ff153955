"""The `threshold_state` table: per contract, whether a threshold configuration is enabled (synced from
the contract's edits), when it was last evaluated, and the row whose lock serializes evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Text, case, func, null, select, type_coerce, update

from tally.db.upsert import insert_ignore, upsert_many
from tally.models.contracts import contract_edits
from tally.models.contracts import contracts as contracts_table
from tally.models.thresholds import threshold_state


def enabled_contracts(conn: Connection) -> list[tuple[str, str]]:
    """(tenant id, contract id) of every contract with an enabled configuration, by contract id."""
    ts = threshold_state.c
    q = select(ts.tenant_id, ts.contract_id).where(ts.enabled.is_(True)).order_by(ts.contract_id)
    return [(r.tenant_id, r.contract_id) for r in conn.execute(q)]


def lock(conn: Connection, tenant_id: str, contract_id: str, now: datetime, skip_locked: bool) -> bool:
    """Take the contract's evaluation lock (creating its row on first use); False if another
    transaction holds it and `skip_locked`."""
    ts = threshold_state.c
    q = select(ts.contract_id).where(ts.contract_id == contract_id, ts.tenant_id == tenant_id)
    q = q.with_for_update(skip_locked=skip_locked)
    if conn.execute(q).first() is not None:
        return True
    insert_ignore(
        conn,
        threshold_state,
        {
            "contract_id": contract_id,
            "tenant_id": tenant_id,
            "synced_seq": 0,
            "enabled": False,
            "evaluated_at": None,
            "updated_at": now,
        },
    )
    return conn.execute(q).first() is not None


def mark_evaluated(conn: Connection, contract_id: str, enabled: bool, now: datetime) -> None:
    """Record an evaluation, with the flag read from the contract's latest edit."""
    conn.execute(
        update(threshold_state)
        .where(threshold_state.c.contract_id == contract_id)
        .values(enabled=enabled, synced_seq=_seq(conn, contract_id), evaluated_at=now, updated_at=now)
    )


def unsynced(conn: Connection, limit: int) -> list[Row[Any]]:
    """Contracts never read, or edited since their flags were read: id, tenant_id, terms (None unless
    they may name a threshold configuration), archived_at and seq (the latest edit)."""
    c, ts = contracts_table.c, threshold_state.c
    latest = (
        select(contract_edits.c.contract_id, func.max(contract_edits.c.seq).label("seq"))
        .group_by(contract_edits.c.contract_id)
        .subquery()
    )
    seq = func.coalesce(latest.c.seq, 0)
    # Most contracts carry no threshold configuration: decode only the terms of those whose JSON text
    # names one (the first sync after a bulk import reads thousands of contracts).
    named = type_coerce(c.terms, Text).like("%threshold_configuration%")
    q = (
        select(
            c.id,
            c.tenant_id,
            case((named, c.terms), else_=null()).label("terms"),
            c.archived_at,
            seq.label("seq"),
        )
        .select_from(contracts_table)
        .outerjoin(latest, latest.c.contract_id == c.id)
        .outerjoin(threshold_state, ts.contract_id == c.id)
        .where(ts.contract_id.is_(None) | (ts.synced_seq < seq))
        .limit(limit)
    )
    return list(conn.execute(q))


def record_synced(conn: Connection, flags: list[tuple[Row[Any], bool]], now: datetime) -> None:
    """Store, per contract read by `unsynced`, whether a configuration is enabled (never going back to
    an older edit's flag)."""
    upsert_many(
        conn,
        threshold_state,
        [
            {
                "contract_id": r.id,
                "tenant_id": r.tenant_id,
                "synced_seq": int(r.seq),
                "enabled": enabled,
                "evaluated_at": None,
                "updated_at": now,
            }
            for r, enabled in flags
        ],
        update=("synced_seq", "enabled", "updated_at"),
        only_if=lambda new: threshold_state.c.synced_seq <= new.synced_seq,
    )


def _seq(conn: Connection, contract_id: str) -> int:
    q = select(func.max(contract_edits.c.seq)).where(contract_edits.c.contract_id == contract_id)
    return int(conn.execute(q).scalar() or 0)
