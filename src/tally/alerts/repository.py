"""Queries on alerts, their per-customer states and the evaluator's watermark; plus the change feed.

The change feed reads other domains' tables (events, ledger entries, contract edits, balances, customers)
for one thing only: which customers changed since a moment. Those reads are timestamp range scans, served
by indexes declared in models/alerts.py where the table is large (events, ledger entries).
Every query filters on tenant_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, delete, distinct, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tally.errors import Conflict
from tally.models.alerts import alert_states as st
from tally.models.alerts import alert_watermarks as wm
from tally.models.alerts import alerts as al
from tally.models.contracts import balances, contract_edits, contracts, ledger_entries
from tally.models.customers import customers
from tally.models.events import events

ENABLED, ARCHIVED = "enabled", "archived"


@dataclass(frozen=True)
class Alert:
    id: str
    tenant_id: str
    name: str
    type: str
    threshold: Decimal
    credit_type_id: str | None
    customer_id: str | None
    billable_metric_id: str | None
    filters: dict[str, Any]
    evaluate_on_create: bool
    uniqueness_key: str | None
    status: str
    sweep_pending: bool
    sweep_after: str | None
    created_at: datetime
    archived_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> Alert:
        return cls(
            row.id,
            row.tenant_id,
            row.name,
            row.alert_type,
            row.threshold,
            row.credit_type_id,
            row.customer_id,
            row.billable_metric_id,
            dict(row.filters or {}),
            bool(row.evaluate_on_create),
            row.uniqueness_key,
            row.status,
            bool(row.sweep_pending),
            row.sweep_after,
            row.created_at,
            row.archived_at,
        )

    def applies_to(self, customer_id: str) -> bool:
        return self.customer_id is None or self.customer_id == customer_id


@dataclass(frozen=True)
class State:
    alert_id: str
    customer_id: str
    status: str
    triggered_by: str | None
    figure: Decimal | None
    alarmed: tuple[str, ...]
    version: int
    updated_at: datetime
    evaluated_at: datetime
    next_check_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> State:
        return cls(
            row.alert_id,
            row.customer_id,
            row.status,
            row.triggered_by,
            row.figure,
            tuple((row.detail or {}).get("in_alarm") or ()),
            int(row.version),
            row.updated_at,
            row.evaluated_at,
            row.next_check_at,
        )


# ------------------------------------------------------------------------------------------ alerts


def insert_alert(conn: Connection, values: dict[str, Any]) -> None:
    """Insert an alert; a uniqueness_key already held by another alert of the tenant is a 409."""
    key = values.get("uniqueness_key")
    if key is not None:
        taken = conn.execute(
            select(al.c.id).where(al.c.tenant_id == values["tenant_id"], al.c.uniqueness_key == key)
        ).first()
        if taken is not None:
            raise Conflict("This uniqueness key has already been used")
    try:
        with conn.begin_nested():
            conn.execute(insert(al).values(**values))
    except IntegrityError:
        raise Conflict("This uniqueness key has already been used") from None


def get_alert(conn: Connection, tenant_id: str, alert_id: str, *, lock: bool = False) -> Alert | None:
    q = select(al).where(al.c.tenant_id == tenant_id, al.c.id == alert_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).first()
    return None if row is None else Alert.of(row)


def update_alert(conn: Connection, tenant_id: str, alert_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(al).where(al.c.tenant_id == tenant_id, al.c.id == alert_id).values(**values))


def alerts_of_customer(
    conn: Connection, tenant_id: str, customer_id: str, statuses: list[str], after: str | None, limit: int
) -> list[Alert]:
    """The customer's own alerts and the tenant's all-customer alerts, in id order."""
    q = select(al).where(
        al.c.tenant_id == tenant_id,
        or_(al.c.customer_id == customer_id, al.c.customer_id.is_(None)),
        al.c.status.in_(statuses),
    )
    if after is not None:
        q = q.where(al.c.id > after)
    return [Alert.of(r) for r in conn.execute(q.order_by(al.c.id).limit(limit + 1))]


def enabled_alerts(conn: Connection, tenant_id: str) -> list[Alert]:
    q = select(al).where(al.c.tenant_id == tenant_id, al.c.status == ENABLED).order_by(al.c.id)
    return [Alert.of(r) for r in conn.execute(q)]


def tenants_with_alerts(conn: Connection) -> list[str]:
    q = select(al.c.tenant_id).where(al.c.status == ENABLED).distinct()
    return sorted(r[0] for r in conn.execute(q))


# ------------------------------------------------------------------------------------------ states


def states_of(conn: Connection, tenant_id: str, customer_id: str, alert_ids: list[str]) -> dict[str, State]:
    if not alert_ids:
        return {}
    q = select(st).where(
        st.c.tenant_id == tenant_id, st.c.customer_id == customer_id, st.c.alert_id.in_(alert_ids)
    )
    return {r.alert_id: State.of(r) for r in conn.execute(q)}


def insert_state(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert the first state of an (alert, customer); False if a concurrent evaluator got there first."""
    try:
        with conn.begin_nested():
            conn.execute(insert(st).values(**values, version=1))
    except IntegrityError:
        return False
    return True


def update_state(
    conn: Connection, tenant_id: str, alert_id: str, customer_id: str, version: int, values: dict[str, Any]
) -> bool:
    """Compare-and-set on `version`: False if someone else wrote the state since it was read."""
    result = conn.execute(
        update(st)
        .where(
            st.c.tenant_id == tenant_id,
            st.c.alert_id == alert_id,
            st.c.customer_id == customer_id,
            st.c.version == version,
        )
        .values(**values, version=version + 1)
    )
    return result.rowcount == 1


def delete_state(conn: Connection, tenant_id: str, alert_id: str, customer_id: str) -> None:
    conn.execute(
        delete(st).where(
            st.c.tenant_id == tenant_id, st.c.alert_id == alert_id, st.c.customer_id == customer_id
        )
    )


def defer_customer(conn: Connection, tenant_id: str, customer_id: str, until: datetime) -> None:
    """Push back the time checks of a customer whose evaluation failed (retried at `until`)."""
    conn.execute(
        update(st)
        .where(st.c.tenant_id == tenant_id, st.c.customer_id == customer_id)
        .values(next_check_at=until)
    )


def due_states(conn: Connection, tenant_id: str, now: datetime) -> list[tuple[str, str]]:
    """(alert id, customer id) of enabled alerts whose time-based check has come."""
    q = (
        select(st.c.alert_id, st.c.customer_id)
        .select_from(st.join(al, al.c.id == st.c.alert_id))
        .where(st.c.tenant_id == tenant_id, st.c.next_check_at <= now, al.c.status == ENABLED)
    )
    return [(r.alert_id, r.customer_id) for r in conn.execute(q)]


def customers_without_state(conn: Connection, tenant_id: str) -> list[str]:
    """Live customers of enabled one-customer alerts with no state yet (their evaluation failed)."""
    joined = al.join(customers, customers.c.id == al.c.customer_id).outerjoin(
        st, (st.c.alert_id == al.c.id) & (st.c.customer_id == al.c.customer_id)
    )
    q = (
        select(distinct(al.c.customer_id))
        .select_from(joined)
        .where(
            al.c.tenant_id == tenant_id,
            al.c.status == ENABLED,
            customers.c.archived_at.is_(None),
            st.c.alert_id.is_(None),
        )
    )
    return sorted(r[0] for r in conn.execute(q))


# ------------------------------------------------------------------------------------------- sweep


def customers_after(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[str]:
    """Customer ids of the tenant (archived ones too: the evaluator skips them) in id order."""
    q = select(customers.c.id).where(customers.c.tenant_id == tenant_id)
    if after is not None:
        q = q.where(customers.c.id > after)
    return [r[0] for r in conn.execute(q.order_by(customers.c.id).limit(limit))]


def advance_sweep(conn: Connection, tenant_id: str, alert_id: str, after: str | None, pending: bool) -> None:
    """Record sweep progress (an alert archived meanwhile stays archived and unswept)."""
    conn.execute(
        update(al)
        .where(al.c.tenant_id == tenant_id, al.c.id == alert_id, al.c.status == ENABLED)
        .values(sweep_after=after, sweep_pending=pending)
    )


# -------------------------------------------------------------------------------------- watermark


def watermark(conn: Connection, tenant_id: str) -> datetime | None:
    return conn.execute(select(wm.c.checked_at).where(wm.c.tenant_id == tenant_id)).scalar()


def set_watermark(conn: Connection, tenant_id: str, at: datetime) -> None:
    done = conn.execute(update(wm).where(wm.c.tenant_id == tenant_id).values(checked_at=at))
    if done.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(insert(wm).values(tenant_id=tenant_id, checked_at=at))
        except IntegrityError:
            conn.execute(update(wm).where(wm.c.tenant_id == tenant_id).values(checked_at=at))


# ------------------------------------------------------------------------------------ change feed


def event_keys_since(conn: Connection, tenant_id: str, since: datetime) -> list[str]:
    """Customer strings (ids or ingest aliases) of events that arrived at or after `since`."""
    q = select(distinct(events.c.customer_id)).where(
        events.c.tenant_id == tenant_id, events.c.received_at >= since
    )
    return [r[0] for r in conn.execute(q)]


def ledger_customers_since(conn: Connection, tenant_id: str, since: datetime) -> list[str]:
    q = select(distinct(ledger_entries.c.customer_id)).where(
        ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.created_at >= since
    )
    return [r[0] for r in conn.execute(q)]


def changed_customers_since(conn: Connection, tenant_id: str, since: datetime) -> list[str]:
    """Customers whose contracts were created or edited, whose commits/credits were added or archived,
    or who were created or changed (aliases, archive) at or after `since`."""
    edited = (
        select(contracts.c.customer_id)
        .select_from(contract_edits.join(contracts, contracts.c.id == contract_edits.c.contract_id))
        .where(contract_edits.c.tenant_id == tenant_id, contract_edits.c.created_at >= since)
    )
    granted = select(balances.c.customer_id).where(
        balances.c.tenant_id == tenant_id,
        or_(balances.c.created_at >= since, balances.c.archived_at >= since),
    )
    touched = select(customers.c.id).where(
        customers.c.tenant_id == tenant_id,
        or_(customers.c.created_at >= since, customers.c.updated_at >= since),
    )
    q = edited.union(granted, touched)
    return sorted({r[0] for r in conn.execute(q)})


def alerts_page(conn: Connection, tenant_id: str, status: str, after: str | None, limit: int) -> list[Alert]:
    """The tenant's alerts of one status in id order, up to limit + 1 (index ix_alerts_tenant)."""
    q = select(al).where(al.c.tenant_id == tenant_id, al.c.status == status)
    if after is not None:
        q = q.where(al.c.id > after)
    return [Alert.of(r) for r in conn.execute(q.order_by(al.c.id).limit(limit + 1))]
