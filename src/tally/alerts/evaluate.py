"""Alert evaluation: the status of each (alert, customer), and one webhook per ok -> in_alarm transition.

Who is evaluated, and when (the worker calls `evaluate_due` at the end of every pass, every few seconds):
- customers whose data changed since the tenant's watermark: events received (usage), ledger rows written
  (invoice draw-down, manual entries, rollovers), contracts created or edited, commits/credits added or
  archived, customers created or changed (aliases, archive). The change feed is read from timestamps, with
  a SLACK overlap so a transaction that stamped its rows just before the previous pass but committed just
  after it is not missed;
- (alert, customer) states whose `next_check_at` has come: a period or segment boundary, a days-left
  threshold crossing, or the periodic REFRESH that catches what the feed does not see (rate-card edits,
  end-date changes, voided drafts, custom-field edits);
- every customer once for a new all-customer alert (the sweep).
A customer is rated once per pass however many alerts it has (`CustomerView` is shared), and customers
nobody changed are not rated at all.

Writes are optimistic: measures are computed in a read transaction (rating never holds the write lock),
then each state is written with a compare-and-set on its version. An evaluator that lost a race writes
nothing and sends nothing, so a transition is recorded, and its webhook staged, exactly once, in the same
transaction (tally.webhooks.outbox).

Recovery (in_alarm -> ok) sends no webhook: the status turns back to ok and the alert re-arms, so the next
crossing notifies again.
"""

from __future__ import annotations

import logging
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from tally.alerts import figures
from tally.alerts import repository as repo
from tally.alerts.figures import CustomerView, Measure
from tally.alerts.kinds import KINDS, Kind
from tally.alerts.repository import ENABLED, Alert, State
from tally.clock import Clock
from tally.customers import service as customers
from tally.customers.service import Customer
from tally.db import uow
from tally.errors import NotFound
from tally.invoices.inputs import Catalog
from tally.webhooks import outbox
from tally.wire import format_timestamp

log = logging.getLogger("tally.alerts")

OK, IN_ALARM = "ok", "in_alarm"
SLACK = timedelta(seconds=30)  # how late a change may commit after the time it was stamped with
REFRESH = timedelta(hours=1)  # every (alert, customer) is re-evaluated at least this often
JITTER_SECONDS = 900  # spread the refreshes so they do not all fall in one pass
RETRY = timedelta(minutes=15)  # a customer whose evaluation fails is tried again after this
BATCH = 25  # customers per transaction

# Customers whose evaluation failed, not retried before the time given (this process only; a restart
# retries them once more). States are deferred in the database too; this also covers customers that
# have no state yet.
_backoff: dict[tuple[str, str], datetime] = {}
_lock = threading.Lock()

# triggered_by values: what made tally look at the customer when the status changed.
USAGE, BALANCE, CONTRACT, SCHEDULE, CREATED, RESET = (
    "usage",
    "balance",
    "contract",
    "schedule",
    "alert_created",
    "reset",
)


@dataclass(frozen=True)
class Outcome:
    alert: Alert
    kind: Kind
    customer: Customer
    measure: Measure
    state: State | None
    reason: str
    force_notify: bool


# ---------------------------------------------------------------------------------------- one customer


def assess(
    conn: Connection,
    alerts: list[Alert],
    tenant_id: str,
    customer_id: str,
    reason: str,
    now: datetime,
    catalog: Catalog,
    *,
    force_notify: bool = False,
) -> list[Outcome]:
    """Measure every enabled alert of the customer (none for an archived or unknown customer)."""
    try:
        customer = customers.get(conn, tenant_id, customer_id)
    except NotFound:
        return []
    mine = [a for a in alerts if a.status == ENABLED and a.applies_to(customer_id) and a.type in KINDS]
    if customer.archived_at is not None or not mine:
        return []
    view = CustomerView(conn, tenant_id, customer_id, now, catalog)
    states = repo.states_of(conn, tenant_id, customer_id, [a.id for a in mine])
    out = []
    for a in mine:
        kind = KINDS[a.type]
        out.append(
            Outcome(a, kind, customer, figures.measure(a, kind, view), states.get(a.id), reason, force_notify)
        )
    return out


def record(conn: Connection, outcomes: list[Outcome], now: datetime) -> int:
    """Write each outcome's state and stage a webhook per part that went into alarm; returns how many."""
    return sum(_record(conn, o, now) for o in outcomes)


def evaluate_customer(
    conn: Connection,
    alerts: list[Alert],
    tenant_id: str,
    customer_id: str,
    reason: str,
    now: datetime,
    *,
    force_notify: bool = False,
) -> int:
    """Assess and record in the caller's transaction (alert creation, reset). A customer tally cannot rate
    does not fail the request: its status stays `evaluating` and the worker retries it."""
    try:
        with conn.begin_nested():
            found = assess(
                conn, alerts, tenant_id, customer_id, reason, now, Catalog(), force_notify=force_notify
            )
    except Exception:
        log.exception("cannot evaluate alerts of customer %s now; the worker will retry", customer_id)
        return 0
    return record(conn, found, now)


def _headline(kind: Kind, m: Measure) -> Decimal | None:
    figures_ = [p.figure for p in m.parts]
    if not figures_:
        return None
    return max(figures_) if kind.fires_at_or_above else min(figures_)


def _next_check(m: Measure, customer_id: str, now: datetime) -> datetime:
    jitter = timedelta(seconds=zlib.crc32(customer_id.encode()) % JITTER_SECONDS)
    refresh = now + REFRESH + jitter
    return refresh if m.next_check_at is None else min(m.next_check_at, refresh)


def _record(conn: Connection, o: Outcome, now: datetime) -> int:
    a, state = o.alert, o.state
    alarmed = sorted(p.key for p in o.measure.parts if p.in_alarm)
    status = IN_ALARM if alarmed else OK
    values: dict[str, Any] = {
        "status": status,
        "figure": _headline(o.kind, o.measure),
        "detail": {"in_alarm": alarmed},
        "evaluated_at": now,
        "next_check_at": _next_check(o.measure, o.customer.id, now),
    }
    reason = o.reason
    if state is None:
        # First look at this pair. Customers that already met the threshold when the alert was created
        # notify only if evaluate_on_create; customers created later, and resets, always do.
        existed = o.customer.created_at <= a.created_at
        if existed and not o.force_notify:
            reason = CREATED  # whichever pass gets here first, the alarm predates nothing but the alert
        new = set(alarmed) if o.force_notify or a.evaluate_on_create or not existed else set()
        values.update(triggered_by=reason if alarmed else None, updated_at=now)
        row = {"tenant_id": a.tenant_id, "alert_id": a.id, "customer_id": o.customer.id, **values}
        if not repo.insert_state(conn, row):
            return 0
    else:
        new = set(alarmed) - set(state.alarmed)
        changed = status != state.status or tuple(alarmed) != state.alarmed
        triggered = reason if new else (state.triggered_by if status == IN_ALARM else None)
        values.update(triggered_by=triggered, updated_at=now if changed else state.updated_at)
        if not repo.update_state(conn, a.tenant_id, a.id, o.customer.id, state.version, values):
            return 0  # another evaluator wrote this state since we read it: it owns the transition
    for part in o.measure.parts:
        if part.key in new:
            outbox.enqueue(conn, a.tenant_id, f"alerts.{a.type}", _payload(o, part, reason, now), now)
    return len(new)


def _payload(o: Outcome, part: figures.Part, reason: str, now: datetime) -> dict[str, Any]:
    a = o.alert
    props: dict[str, Any] = {
        "customer_id": o.customer.id,
        "alert_id": a.id,
        "alert_name": a.name,
        "alert_type": a.type,
        "timestamp": format_timestamp(now),
        "threshold": a.threshold,
        "triggered_by": reason,
    }
    if a.credit_type_id is not None:
        props["credit_type_id"] = a.credit_type_id
    props[o.kind.figure_name] = part.figure
    props.update(part.props)
    return props


# ------------------------------------------------------------------------------------------ the pass


def evaluate_due(engine: Engine, clock: Clock) -> int:
    """Evaluate what changed or fell due, tenant by tenant; returns the webhooks staged. Never raises: a
    failing tenant is logged and retried on the next pass (its watermark does not move)."""
    try:
        with uow.read(engine) as conn:
            tenants = repo.tenants_with_alerts(conn)
    except Exception:
        log.exception("alert evaluation: cannot list tenants; retrying on the next pass")
        return 0
    sent = 0
    for tenant_id in tenants:
        try:
            sent += _tenant_pass(engine, clock, tenant_id)
        except Exception:
            log.exception("alert evaluation failed for tenant %s; retrying on the next pass", tenant_id)
    return sent


def _tenant_pass(engine: Engine, clock: Clock, tenant_id: str) -> int:
    now = clock.now()
    catalog = Catalog()
    with uow.read(engine) as conn:
        # The watermark starts when the tenant's first alert is created (service.create); after a
        # worker outage the pass catches up on everything since.
        lo = (repo.watermark(conn, tenant_id) or now) - SLACK
        dirty: dict[str, str] = {}
        keys = repo.event_keys_since(conn, tenant_id, lo)
        for cid in sorted(set(customers.resolve_keys(conn, tenant_id, keys).values())):
            dirty.setdefault(cid, USAGE)
        for cid in repo.ledger_customers_since(conn, tenant_id, lo):
            dirty.setdefault(cid, BALANCE)
        # Precedence of triggered_by: usage, balance, a due time check, then other changes.
        for _, cid in repo.due_states(conn, tenant_id, now):
            dirty.setdefault(cid, SCHEDULE)
        for cid in repo.changed_customers_since(conn, tenant_id, lo):
            dirty.setdefault(cid, CONTRACT)
        for cid in repo.customers_without_state(conn, tenant_id):
            dirty.setdefault(cid, CREATED)  # their evaluation at creation or reset failed
        enabled = repo.enabled_alerts(conn, tenant_id)
        sweeps = [a.id for a in enabled if a.sweep_pending]
    if all(a.customer_id is not None for a in enabled):
        # Only customers with an alert of their own need looking at.
        dirty = {c: r for c, r in dirty.items() if any(a.customer_id == c for a in enabled)}
    sent = 0
    ids = sorted(dirty)
    for i in range(0, len(ids), BATCH):
        sent += _batch(engine, tenant_id, [(cid, dirty[cid]) for cid in ids[i : i + BATCH]], now, catalog)
    for alert_id in sweeps:
        sent += _sweep(engine, tenant_id, alert_id, now, catalog, set(dirty))
    with uow.write(engine) as conn:
        repo.set_watermark(conn, tenant_id, now)
    return sent


def _assess_many(
    conn: Connection,
    alerts: list[Alert],
    tenant_id: str,
    todo: list[tuple[str, str]],
    now: datetime,
    catalog: Catalog,
) -> tuple[list[Outcome], set[str]]:
    """Outcomes, and the customers not assessed (failed now, or still backing off from a failure)."""
    outcomes: list[Outcome] = []
    failed: set[str] = set()
    for cid, reason in todo:
        with _lock:
            if _backoff.get((tenant_id, cid), now) > now:
                failed.add(cid)
                continue
        try:
            with conn.begin_nested():
                outcomes += assess(conn, alerts, tenant_id, cid, reason, now, catalog)
        except Exception:
            # One customer the engine cannot rate must not hold up the others.
            log.exception("cannot evaluate alerts of customer %s; retrying in %s", cid, RETRY)
            failed.add(cid)
            with _lock:
                _backoff[(tenant_id, cid)] = now + RETRY
    return outcomes, failed


def _batch(
    engine: Engine, tenant_id: str, todo: list[tuple[str, str]], now: datetime, catalog: Catalog
) -> int:
    with uow.read(engine) as conn:
        alerts = repo.enabled_alerts(conn, tenant_id)
        outcomes, failed = _assess_many(conn, alerts, tenant_id, todo, now, catalog)
    seen = {o.customer.id for o in outcomes}
    with uow.write(engine) as conn:
        for cid, _ in todo:
            with _lock:
                retry_at = _backoff.get((tenant_id, cid))
            if cid in failed and retry_at is not None:
                repo.defer_customer(conn, tenant_id, cid, retry_at)
            elif cid not in seen:
                # Archived (or no alert applies any more): its time checks need not come round every pass.
                repo.defer_customer(conn, tenant_id, cid, now + REFRESH)
        return record(conn, outcomes, now)


def _sweep(
    engine: Engine, tenant_id: str, alert_id: str, now: datetime, catalog: Catalog, done: set[str]
) -> int:
    """Evaluate a new all-customer alert on every customer, BATCH customers per transaction."""
    sent = 0
    while True:
        with uow.read(engine) as conn:
            alert = repo.get_alert(conn, tenant_id, alert_id)
            if alert is None or alert.status != ENABLED or not alert.sweep_pending:
                return sent
            ids = repo.customers_after(conn, tenant_id, alert.sweep_after, BATCH)
            todo = [(cid, CREATED) for cid in ids if cid not in done]
            outcomes, _ = _assess_many(conn, [alert], tenant_id, todo, now, catalog)
        with uow.write(engine) as conn:
            sent += record(conn, outcomes, now)
            repo.advance_sweep(
                conn, tenant_id, alert_id, ids[-1] if ids else alert.sweep_after, len(ids) == BATCH
            )
        if len(ids) < BATCH:
            return sent
