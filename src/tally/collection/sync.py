"""Send staged invoices to Stripe and keep their status current (docs/stripe.md).

Rows of `stripe_invoice_syncs` are staged by finalization (and marked for void by void) in the same
transaction as the invoice change. A worker pass claims due rows with a lease (`FOR UPDATE SKIP LOCKED`
on PostgreSQL; SQLite serializes writers), commits the claim, talks to Stripe outside any transaction,
then records the outcome only if it still holds the lease. Every Stripe write carries an idempotency key
derived from tally's invoice id, and the flow reads the Stripe invoice's own state before each step, so a
retry, a crash between two calls, or a second worker never creates a second Stripe invoice.

Outcomes: Stripe down, 429 or 5xx -> retried with exponential backoff (capped); Stripe's 4xx -> the row
goes to `error` with Stripe's message (external_status INVALID_REQUEST_ERROR, an audit row and a
webhook event) until the operator retries it (`POST /tally/v1/stripe/syncs/retry`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
from sqlalchemy import Connection, Engine, Row, insert, select, update
from stripe._base_address import BaseAddresses

from tally.billing_providers import service as providers
from tally.billing_providers.service import DONE, ERROR, PENDING, StripeCredentials
from tally.clock import Clock
from tally.collection import amounts
from tally.db import uow
from tally.ids import new_id
from tally.invoices import service as invoices
from tally.kit import metrics
from tally.models.audit import audit_logs
from tally.models.billing_providers import customer_billing_configurations as configs_t
from tally.models.billing_providers import stripe_invoice_syncs as S
from tally.settings import Settings
from tally.webhooks import keys, outbox
from tally.wire import decode_json, format_timestamp

log = logging.getLogger("tally.stripe")

BATCH = 20
LEASE = timedelta(minutes=5)
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
RECONCILE_EVERY = timedelta(hours=1)
PASS_BUDGET_SECONDS = 20.0
TIMEOUT_SECONDS = 30
# Stripe invoice status -> Metronome's external_status
STATUS = {
    "draft": "DRAFT",
    "open": "FINALIZED",
    "paid": "PAID",
    "void": "VOID",
    "uncollectible": "UNCOLLECTIBLE",
}
TERMINAL = frozenset({"PAID", "VOID", "DELETED", "SKIPPED", "UNCOLLECTIBLE"})
# A status only moves forward (webhooks arrive in any order): a late invoice.finalized never undoes SENT.
RANK = {
    "QUEUED": 0,
    "INVALID_REQUEST_ERROR": 0,
    "DRAFT": 1,
    "FINALIZED": 2,
    "SENT": 3,
    "PAYMENT_FAILED": 3,
    "UNCOLLECTIBLE": 4,
    "PAID": 5,
    "VOID": 5,
    "DELETED": 5,
    "SKIPPED": 5,
}


@dataclass
class SyncResult:
    sent: int = 0
    errors: int = 0
    retrying: int = 0
    reconciled: int = 0
    statuses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Claimed:
    row: Row[Any]
    lease: str
    configuration: dict[str, Any]
    doc: dict[str, Any] | None


class Refused(Exception):
    """Stripe's 4xx (other than 429): fix the cause, then retry."""


def client(creds: StripeCredentials) -> stripe.StripeClient:
    base: BaseAddresses = {"api": creds.api_base.rstrip("/")} if creds.api_base else {}
    return stripe.StripeClient(
        creds.secret_key,
        stripe_account=creds.account_id,
        base_addresses=base,
        max_network_retries=0,  # the outbox retries, with backoff
        http_client=stripe.new_default_http_client(timeout=TIMEOUT_SECONDS),
    )


def backoff(attempts: int) -> timedelta:
    delay: timedelta = BACKOFF_FIRST * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_MAX)


# ------------------------------------------------------------------------------------------- claim


def claim(conn: Connection, now: datetime, limit: int = BATCH) -> list[Claimed]:
    q = (
        select(S)
        .where(S.c.state == PENDING, S.c.next_attempt_at <= now)
        .order_by(S.c.next_attempt_at, S.c.invoice_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    out = []
    for row in conn.execute(q).all():
        lease = new_id()
        taken = conn.execute(
            update(S)
            .where(S.c.invoice_id == row.invoice_id, S.c.state == PENDING, S.c.attempts == row.attempts)
            .values(attempts=row.attempts + 1, lease=lease, next_attempt_at=now + LEASE)
        ).rowcount
        if not taken:
            continue
        cfg = conn.execute(
            select(configs_t.c.configuration).where(configs_t.c.id == row.configuration_id)
        ).scalar()
        snapshot = invoices.issued_snapshot(conn, row.tenant_id, row.invoice_id)
        doc = decode_json(snapshot.encode()) if snapshot is not None else None
        out.append(Claimed(row, lease, dict(cfg or {}), doc))
    return out


# ------------------------------------------------------------------------------------- the Stripe flow


def _opts(row: Row[Any], step: str) -> stripe.RequestOptions:
    """Idempotency key of one Stripe write: tally's invoice id, the retry generation and the step."""
    return {"idempotency_key": f"tally-invoice-{row.invoice_id}-g{row.generation}-{step}"}


def _send(sc: stripe.StripeClient, c: Claimed, created: Callable[[str], None]) -> dict[str, Any]:
    """Bring the Stripe invoice of `c` to where tally wants it; returns the columns to record."""
    row, cfg = c.row, c.configuration
    inv_id = row.invoice_id
    if row.void_requested:
        return _void(sc, row)
    if c.doc is None:
        raise Refused(f"tally invoice {inv_id} has no finalized snapshot")
    try:
        p = amounts.plan(c.doc)
    except amounts.NotSendable as exc:
        raise Refused(str(exc)) from None
    if p.total <= 0:
        # Nothing to collect: Stripe never sees a zero-total invoice.
        return {
            "external_status": "SKIPPED",
            "invoiced_total": Decimal(str(c.doc["total"])),
            "reconcile_at": None,
        }
    method = cfg.get("stripe_collection_method", "charge_automatically")
    customer = cfg["stripe_customer_id"]
    si = None
    if row.stripe_invoice_id:
        si = sc.v1.invoices.retrieve(row.stripe_invoice_id)
    if si is None:
        params: dict[str, Any] = {
            "customer": customer,
            "currency": p.currency,
            "collection_method": method,
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": f"Invoice {inv_id}",
            "metadata": {
                "tally_invoice_id": inv_id,
                "tally_customer_id": row.customer_id,
                "tally_contract_id": str(c.doc.get("contract_id") or ""),
            },
        }
        if method == "send_invoice":
            params["days_until_due"] = int(c.doc.get("net_payment_terms_days") or 30)
        si = sc.v1.invoices.create(params, _opts(row, "create"))  # type: ignore[arg-type]
        created(si.id)
    if si.status == "draft":
        have = {_line_index(li.metadata) for li in si.lines.data}
        for it in p.items:
            if str(it.index) in have:
                continue
            item: dict[str, Any] = {
                "customer": customer,
                "invoice": si.id,
                "amount": it.amount,
                "currency": p.currency,
                "description": it.description,
                "metadata": {"tally_invoice_id": inv_id, "tally_line_index": str(it.index)},
            }
            if it.period_start is not None and it.period_end is not None:
                item["period"] = {"start": it.period_start, "end": it.period_end}
            sc.v1.invoice_items.create(item, _opts(row, f"item-{it.index}"))  # type: ignore[arg-type]
        if cfg.get("leave_stripe_invoices_in_draft"):
            si = sc.v1.invoices.retrieve(si.id)
            return _recorded(si, c.doc)
        # charge_automatically: auto_advance on, so after a declined charge Stripe's own retries (Smart
        # Retries, dunning) keep collecting; send_invoice: tally sends it itself below.
        advance = method == "charge_automatically"
        si = sc.v1.invoices.finalize_invoice(si.id, {"auto_advance": advance}, _opts(row, "finalize"))
    status = None
    if si.status == "open":
        if method == "send_invoice":
            si = sc.v1.invoices.send_invoice(si.id, None, _opts(row, "send"))
            status = "SENT" if si.status == "open" else None
        else:
            try:
                si = sc.v1.invoices.pay(si.id, None, _opts(row, "pay"))
            except stripe.CardError as exc:
                # The invoice is issued; only the charge failed. Not a sync error: Stripe retries it.
                si = sc.v1.invoices.retrieve(si.id)
                out = _recorded(si, c.doc)
                out |= {"external_status": "PAYMENT_FAILED", "error": _message(exc)}
                return out
    out = _recorded(si, c.doc)
    if status is not None:
        out["external_status"] = status
    return out


def _line_index(metadata: Any) -> str | None:
    """The tally line a Stripe line came from (its metadata), if any."""
    if not metadata:
        return None
    value = metadata.to_dict().get("tally_line_index")
    return str(value) if value is not None else None


def _recorded(si: Any, doc: dict[str, Any]) -> dict[str, Any]:
    d = si.to_dict()
    status = STATUS.get(d.get("status") or "", "FINALIZED")
    finalized_at = (d.get("status_transitions") or {}).get("finalized_at")
    out: dict[str, Any] = {
        "stripe_invoice_id": si.id,
        "external_status": status,
        "invoiced_total": Decimal(str(doc["total"])),
        "pdf_url": d.get("invoice_pdf"),
        "error": None,
        "reconcile_at": None,
    }
    payment = d.get("payment_intent")
    if isinstance(payment, str):
        out["external_payment_id"] = payment
    if finalized_at:
        out["issued_at"] = datetime.fromtimestamp(int(finalized_at), tz=UTC)
    return out


def _void(sc: stripe.StripeClient, row: Row[Any]) -> dict[str, Any]:
    if not row.stripe_invoice_id:
        return {"external_status": "VOID", "reconcile_at": None, "void_requested": False}
    si = sc.v1.invoices.retrieve(row.stripe_invoice_id)
    if si.status == "draft":
        sc.v1.invoices.delete(si.id)
        return {"external_status": "DELETED", "reconcile_at": None, "void_requested": False}
    if si.status in ("open", "uncollectible"):
        si = sc.v1.invoices.void_invoice(si.id, None, _opts(row, "void"))
    if si.status == "void":
        return {"external_status": "VOID", "reconcile_at": None, "void_requested": False}
    raise Refused(f"Stripe invoice {si.id} is {si.status} and cannot be voided; refund it in Stripe")


def _progress(engine: Engine, c: Claimed, stripe_invoice_id: str) -> None:
    """Remember the Stripe invoice as soon as it exists (the next attempt resumes from it)."""
    with uow.write(engine) as conn:
        conn.execute(
            update(S)
            .where(S.c.invoice_id == c.row.invoice_id, S.c.lease == c.lease)
            .values(stripe_invoice_id=stripe_invoice_id, external_status="DRAFT")
        )


def _message(exc: stripe.StripeError) -> str:
    msg = exc.user_message or str(exc) or type(exc).__name__
    return msg[:1000]


def _scrub(text: str, creds: StripeCredentials) -> str:
    for secret in (creds.secret_key, creds.webhook_secret):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


# ------------------------------------------------------------------------------------------ record


def _record(engine: Engine, clock: Clock, c: Claimed, values: dict[str, Any], result: SyncResult) -> None:
    now = clock.now()
    row = c.row
    with uow.write(engine) as conn:
        current = conn.execute(
            select(S).where(S.c.invoice_id == row.invoice_id, S.c.lease == c.lease)
        ).first()
        if current is None:
            return  # the lease expired and another attempt owns the row now
        state = values.pop("state", DONE)
        if current.void_requested and not row.void_requested and state == DONE:
            state, values["next_attempt_at"] = PENDING, now  # voided while we were sending: void it now
        elif "void_requested" in values and current.void_requested:
            values["void_requested"] = False
        new = values.get("external_status")
        if state == DONE and new is not None and RANK.get(new, 0) < RANK.get(current.external_status, 0):
            values.pop("external_status")  # a webhook got further while this attempt ran (e.g. PAID)
        metrics.STRIPE_SYNCS.labels({DONE: "synced", PENDING: "retrying", ERROR: "refused"}[state]).inc()
        status = values.get("external_status", current.external_status)
        if state == DONE and status not in TERMINAL and "reconcile_at" in values:
            values["reconcile_at"] = now + RECONCILE_EVERY
        conn.execute(
            update(S)
            .where(S.c.invoice_id == row.invoice_id, S.c.lease == c.lease)
            .values(state=state, lease=None, updated_at=now, **values)
        )
        if status != current.external_status:
            _status_changed(conn, current, status, values.get("error"), now)
            result.statuses[row.invoice_id] = status


def _status_changed(conn: Connection, row: Row[Any], status: str, error: str | None, now: datetime) -> None:
    properties: dict[str, Any] = {
        "invoice_id": row.invoice_id,
        "customer_id": row.customer_id,
        "billing_provider": "stripe",
        "external_status": status,
        "previous_external_status": row.external_status,
        "timestamp": format_timestamp(now),
    }
    stripe_id = row.stripe_invoice_id
    if stripe_id:
        properties["external_invoice_id"] = stripe_id
    if error:
        properties["billing_provider_error"] = error
    outbox.enqueue(conn, row.tenant_id, "invoice.external_status_changed", properties, now)


def apply_status(conn: Connection, row: Row[Any], status: str, now: datetime, **extra: Any) -> bool:
    """Move a synced invoice to `status` (from a webhook or the reconcile); False if nothing changed.
    A terminal status is never left (a late `invoice.finalized` does not undo PAID)."""
    if row.external_status == status or RANK.get(status, 0) < RANK.get(row.external_status, 0):
        return False
    if RANK.get(row.external_status, 0) == 5:
        return False
    values: dict[str, Any] = {"external_status": status, "updated_at": now, **extra}
    if status in TERMINAL:
        values["reconcile_at"] = None
    conn.execute(update(S).where(S.c.invoice_id == row.invoice_id).values(**values))
    _status_changed(conn, row, status, None, now)
    return True


def _audit(conn: Connection, row: Row[Any], message: str, now: datetime) -> None:
    conn.execute(
        insert(audit_logs).values(
            id=new_id(),
            tenant_id=row.tenant_id,
            created_at=now,
            action="invoice.stripe_sync_failed",
            resource_type="invoice",
            resource_id=row.invoice_id,
            actor_id="tally-worker",
            actor_name="tally worker",
            description=f"Stripe refused invoice {row.invoice_id}: {message}"[:1024],
            request_id=new_id(),
            ip=None,
            user_agent=None,
        )
    )


# -------------------------------------------------------------------------------------------- pass


def _attempt(engine: Engine, clock: Clock, c: Claimed, server_key: bytes, result: SyncResult) -> None:
    row = c.row
    with uow.read(engine) as conn:
        creds = providers.credentials(conn, row.tenant_id, server_key)
    if creds is None:
        _fail(
            engine,
            clock,
            c,
            "Stripe is not connected for this tenant (POST /tally/v1/stripe/connection)",
            result,
        )
        return
    try:
        values = _send(client(creds), c, lambda sid: _progress(engine, c, sid))
    except Refused as exc:
        _fail(engine, clock, c, _scrub(str(exc), creds), result)
        return
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        _retry_later(engine, clock, c, _scrub(_message(exc), creds), result)
        return
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if status >= 500 or status in (0, 409, 429):
            _retry_later(engine, clock, c, _scrub(_message(exc), creds), result)
        else:
            _fail(engine, clock, c, _scrub(_message(exc), creds), result)
        return
    except Exception:
        log.exception("Stripe sync of invoice %s failed unexpectedly; retrying later", row.invoice_id)
        _retry_later(engine, clock, c, "unexpected error; see the worker log", result)
        return
    _record(engine, clock, c, values, result)
    result.sent += 1


def _fail(engine: Engine, clock: Clock, c: Claimed, message: str, result: SyncResult) -> None:
    log.warning("Stripe refused invoice %s: %s", c.row.invoice_id, message)
    values: dict[str, Any] = {"state": ERROR, "error": message}
    if not c.row.void_requested:  # a refused void keeps the status the Stripe invoice has (e.g. PAID)
        values["external_status"] = "INVALID_REQUEST_ERROR"
    _record(engine, clock, c, values, result)
    now = clock.now()
    with uow.write(engine) as conn:
        _audit(conn, c.row, message, now)
        properties = {
            "invoice_id": c.row.invoice_id,
            "customer_id": c.row.customer_id,
            "billing_provider": "stripe",
            "billing_provider_error": message,
            "timestamp": format_timestamp(now),
        }
        outbox.enqueue(conn, c.row.tenant_id, "invoice.billing_provider_error", properties, now)
    result.errors += 1


def _retry_later(engine: Engine, clock: Clock, c: Claimed, message: str, result: SyncResult) -> None:
    log.info("Stripe unavailable for invoice %s (%s); retrying with backoff", c.row.invoice_id, message)
    now = clock.now()
    with uow.write(engine) as conn:
        conn.execute(
            update(S)
            .where(S.c.invoice_id == c.row.invoice_id, S.c.lease == c.lease)
            .values(
                lease=None, next_attempt_at=now + backoff(c.row.attempts + 1), error=message, updated_at=now
            )
        )
    result.retrying += 1


def sync_due(engine: Engine, clock: Clock, settings: Settings) -> SyncResult:
    """Work the Stripe outbox, then reconcile what is due (called by each billing-worker pass)."""
    result = SyncResult()
    started = time.monotonic()
    server_key: bytes | None = None
    while time.monotonic() - started < PASS_BUDGET_SECONDS:
        with uow.write(engine) as conn:
            batch = claim(conn, clock.now())
        if not batch:
            break
        server_key = server_key or keys.server_key(settings)
        for c in batch:
            _attempt(engine, clock, c, server_key, result)
    reconcile(engine, clock, settings, result)
    return result


def reconcile(
    engine: Engine, clock: Clock, settings: Settings, result: SyncResult | None = None
) -> SyncResult:
    """Read the Stripe invoices whose reconcile time has come, catching any missed webhook."""
    result = result or SyncResult()
    now = clock.now()
    with uow.read(engine) as conn:
        rows = conn.execute(
            select(S)
            .where(S.c.state == DONE, S.c.reconcile_at.is_not(None), S.c.reconcile_at <= now)
            .order_by(S.c.reconcile_at)
            .limit(100)
        ).all()
    if not rows:
        return result
    server_key = keys.server_key(settings)
    for row in rows:
        with uow.read(engine) as conn:
            creds = providers.credentials(conn, row.tenant_id, server_key)
        if creds is None or not row.stripe_invoice_id:
            continue
        try:
            si = client(creds).v1.invoices.retrieve(row.stripe_invoice_id)
        except stripe.StripeError as exc:
            log.info("reconcile of %s failed: %s", row.invoice_id, _scrub(_message(exc), creds))
            continue
        status = STATUS.get(si.status or "", row.external_status)
        if status == "FINALIZED" and row.external_status in ("SENT", "PAYMENT_FAILED"):
            status = row.external_status  # still open: keep the more precise status
        with uow.write(engine) as conn:
            fresh = conn.execute(select(S).where(S.c.invoice_id == row.invoice_id)).first()
            if fresh is None:
                continue
            if not apply_status(conn, fresh, status, now):
                conn.execute(
                    update(S)
                    .where(S.c.invoice_id == row.invoice_id)
                    .values(reconcile_at=None if status in TERMINAL else now + RECONCILE_EVERY)
                )
            else:
                result.statuses[row.invoice_id] = status
        result.reconciled += 1
    return result
