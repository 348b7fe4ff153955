"""Threshold billing (SPEC §5.10 spend thresholds, §5.11 prepaid-balance recharge): when a contract
crosses its configured threshold, grant a PREPAID commit and invoice it at once.

* Prepaid balance recharge: the contract's available balance is every PREPAID commit and credit it can
  draw (its own and the customer-level ones that apply to it) in the configuration's credit type, SPEND
  access, segments active now, after what finalized invoices took and what its open drafts would take.
  At or below `threshold_amount`, a commit of `recharge_to_amount - balance` is granted from the start of
  the current hour for `commit.duration` (default one year).
* Spend threshold: the uncovered spend of the current usage period (its draft's usage, subscription and
  conversion lines less the prepaid commits and credits applied to them; earlier threshold commits are
  among those) reaching `threshold_amount` grants a commit of exactly that amount, applicable to
  everything, whose access is the current period, so the period's usage invoice draws it down.

Each granted commit has one invoice-schedule item now, so a SCHEDULED commit-purchase invoice is
finalized in the same transaction; with `discount_configuration` it bills `payment_fraction` of the
amount granted (rounded to the currency). tally has no payment processor: every payment gate behaves as
NONE (the commit is usable at once).

Idempotence and races: the worker first looks in a read transaction; when something is due, the
contract is evaluated again in its own write transaction that first locks the contract's
`threshold_state` row (PostgreSQL: FOR UPDATE, SKIP LOCKED in the worker; SQLite serializes writers) and
recomputes from the stored commits. A grant changes what the next evaluation sees (the balance is
back above the threshold; the spend is covered), so repeating a pass grants nothing; commit ids derive
from the contract and the number of earlier grants, so even an unlocked duplicate would collide on the
primary key instead of granting twice.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, Text, case, func, null, select, type_coerce, update

from tally.clock import Clock
from tally.contracts import balances as contract_balances
from tally.contracts import ledger
from tally.contracts import service as contracts
from tally.contracts import thresholds as config
from tally.credit_types.builtin import USD_CENTS_ID
from tally.custom_fields import service as custom_fields
from tally.db import uow
from tally.db.uow import WriteConn
from tally.db.upsert import insert_ignore, upsert_many
from tally.invoices import repository as repo
from tally.invoices import service
from tally.invoices.inputs import Catalog, Loader
from tally.models.contracts import contract_edits
from tally.models.contracts import contracts as contracts_table
from tally.models.thresholds import threshold_state
from tally.money import CreditType
from tally.money.context import ZERO, add, div, mul, sub, total
from tally.money.rounding import RoundingMode, round_to
from tally.rating import inputs as ri
from tally.rating.from_wire import commit_from_wire
from tally.rating.periods import Period, add_months
from tally.rating.results import Invoice, LedgerEntryKind, LineType
from tally.wire import parse_timestamp

log = logging.getLogger("tally.thresholds")

SPEND_SOURCE = "SPEND_THRESHOLD"
RECHARGE_SOURCE = "PREPAID_BALANCE_THRESHOLD"
DEFAULT_PRIORITY = Decimal(100)
SYNC_BATCH = 1000
_SECOND = timedelta(seconds=1)
# Lines a threshold commit (fiat, applicable to everything) can pay, and the prepaid draw-downs of them.
_DRAWABLE = {LineType.USAGE, LineType.SUBSCRIPTION, LineType.CPU_CONVERSION}
_DRAFT_DEDUCTIONS = {(LedgerEntryKind.DEDUCTION, c) for c in (ri.CommitType.PREPAID, ri.CommitType.CREDIT)}
_ENTITIES = {
    "Commit": {"PREPAID", "POSTPAID"},
    "ContractCredit": {"CREDIT"},
    "ContractCreditOrCommit": {"PREPAID", "POSTPAID", "CREDIT"},
}


@dataclass(frozen=True)
class _Plan:
    """A commit a crossing calls for, before it has an invoice date."""

    source: str
    amount: Decimal
    credit_type_id: str
    access: Period
    invoiced: Decimal  # in `fiat`
    fiat: CreditType
    fraction: Decimal
    terms: dict[str, Any]  # applicability, rate_type, rollover_fraction
    extra: dict[str, Any]  # recorded in the commit's `threshold_billing`


@dataclass(frozen=True)
class Grant:
    source: str
    commit_id: str
    amount: Decimal
    invoiced: Decimal


# ----------------------------------------------------------------------------------------- entry points


def run(engine: Engine, clock: Clock) -> int:
    """The worker's share (end of every pass): refresh which contracts have an enabled configuration,
    then evaluate each of those in its own transaction. Returns how many commits were granted."""
    try:
        sync(engine, clock)
        with uow.read(engine) as conn:
            todo = [
                (r.tenant_id, r.contract_id)
                for r in conn.execute(
                    select(threshold_state.c.tenant_id, threshold_state.c.contract_id)
                    .where(threshold_state.c.enabled.is_(True))
                    .order_by(threshold_state.c.contract_id)
                )
            ]
    except Exception:
        log.exception("threshold pass failed; will retry on the next pass")
        return 0
    catalogs: dict[str, Catalog] = {}
    granted = 0
    for tenant_id, contract_id in todo:
        catalog = catalogs.setdefault(tenant_id, Catalog())
        try:
            # Most passes grant nothing: look first in a read transaction (no lock, no SQLite write lock
            # held while drafts are rated), then redo it under the lock only when something is due.
            with uow.read(engine) as conn:
                due = evaluate(conn, tenant_id, contract_id, clock.now(), catalog, dry_run=True)
            if not due:
                continue
            with uow.write(engine) as conn:
                found = evaluate(conn, tenant_id, contract_id, clock.now(), catalog, skip_locked=True)
        except Exception:
            log.exception("cannot evaluate thresholds of contract %s; retrying next pass", contract_id)
            continue
        granted += len(found)
        for g in found:
            log.info("contract %s: %s commit %s of %s", contract_id, g.source, g.commit_id, g.amount)
    return granted


def evaluate_now(engine: Engine, tenant_id: str, contract_id: str, now: datetime) -> None:
    """The immediate evaluation after a contract create / v2 edit (SPEC §5.10: is_enabled triggers one)."""
    with uow.write(engine) as conn:
        evaluate(conn, tenant_id, contract_id, now, Catalog(), skip_locked=False)


def sync(engine: Engine, clock: Clock) -> int:
    """Record, per contract created or edited since last read, whether a configuration is enabled."""
    done = 0
    while True:
        with uow.write(engine) as conn:
            now = clock.now()
            rows = _unsynced(conn, SYNC_BATCH)
            upsert_many(
                conn,
                threshold_state,
                [
                    {
                        "contract_id": r.id,
                        "tenant_id": r.tenant_id,
                        "synced_seq": int(r.seq),
                        "enabled": _enabled(r.terms, r.archived_at),
                        "evaluated_at": None,
                        "updated_at": now,
                    }
                    for r in rows
                ],
                update=("synced_seq", "enabled", "updated_at"),
                only_if=lambda new: threshold_state.c.synced_seq <= new.synced_seq,
            )
        done += len(rows)
        if len(rows) < SYNC_BATCH:
            return done


def evaluate(
    conn: Connection,
    tenant_id: str,
    contract_id: str,
    now: datetime,
    catalog: Catalog,
    *,
    skip_locked: bool = False,
    dry_run: bool = False,
) -> list[Grant]:
    """Evaluate one contract under its lock; grant and invoice what its thresholds call for. With
    `dry_run` (any transaction, no lock taken): what would be granted, without commit ids."""
    if not dry_run and not _lock(conn, tenant_id, contract_id, now, skip_locked):
        return []  # another worker is evaluating it right now
    crow = contracts.row(conn, tenant_id, contract_id)
    if crow is None:
        return []
    enabled = _enabled(crow.terms, crow.archived_at)
    if not dry_run:
        conn.execute(
            update(threshold_state)
            .where(threshold_state.c.contract_id == contract_id)
            .values(enabled=enabled, synced_seq=_seq(conn, contract_id), evaluated_at=now, updated_at=now)
        )
    end = crow.ending_before
    if not enabled or now < crow.starting_at or (end is not None and now >= end):
        return []
    loader = Loader(conn, tenant_id, catalog)
    grants: list[Grant] = []
    at: datetime | None = None
    drafts: dict[service.Key, Invoice] = {}  # usage drafts computed in this evaluation
    # Spend first: its commit pays the period's usage, so the balance a recharge sees is unchanged by it.
    for key, plan_of in ((config.SPEND, _spend), (config.PREPAID, _recharge)):
        cfg = crow.terms.get(key) or {}
        if not cfg.get("is_enabled"):
            continue
        plan = plan_of(conn, loader, crow, cfg, now, drafts)
        if plan is None:
            continue
        if dry_run:
            grants.append(Grant(plan.source, "", plan.amount, plan.invoiced))
            continue
        at = at or _invoice_time(conn, crow, now)
        grants.append(_grant(conn, loader, crow, cfg, plan, now, at))
        loader.forget(crow.id)
        drafts.clear()
    if at is not None:
        scheduled = service.Key(crow.id, service.SCHEDULED, at, at)
        # Not a dry run, so `conn` is the write its callers opened (`run`, `evaluate_now`).
        service.finalize(WriteConn(conn), loader, crow, scheduled, now, known_unsettled=True)
    return grants


# ------------------------------------------------------------------------------------------- spend


def _spend(
    conn: Connection,
    loader: Loader,
    crow: Row[Any],
    cfg: dict[str, Any],
    now: datetime,
    drafts: dict[service.Key, Invoice],
) -> _Plan | None:
    period = _current_period(crow, now)
    if period is None:
        return None
    key = service.Key(crow.id, service.USAGE, period.starting_at, period.ending_before)
    if _settled(conn, crow, key):
        return None
    inv = _draft(loader, crow, key, now, drafts)
    uncovered = _uncovered(inv)
    threshold = Decimal(str(cfg["threshold_amount"]))
    if uncovered <= 0 or uncovered < threshold:
        return None
    fiat = inv.credit_type
    fraction = _fraction(conn, crow, cfg, period)
    invoiced = round_to(mul(uncovered, fraction), fiat.decimal_places, RoundingMode.HALF_UP)
    return _Plan(
        SPEND_SOURCE,
        amount=uncovered,
        credit_type_id=fiat.id,
        access=period,
        invoiced=invoiced,
        fiat=fiat,
        fraction=fraction,
        terms={},
        extra={"period_starting_at": period.starting_at, "uncovered_spend": uncovered},
    )


def _uncovered(inv: Invoice) -> Decimal:
    """What the draft still asks for on lines a prepaid commit could pay (usage, subscriptions, custom
    pricing unit conversions), after the prepaid commits and credits already applied to them."""
    fiat_id = inv.credit_type.id
    return total(
        li.total
        for li in inv.line_items
        if li.credit_type_id == fiat_id
        and not li.excluded_from_total
        and (li.type in _DRAWABLE or li.type is LineType.APPLIED)
    )


# ---------------------------------------------------------------------------------------- recharge


def _recharge(
    conn: Connection,
    loader: Loader,
    crow: Row[Any],
    cfg: dict[str, Any],
    now: datetime,
    drafts: dict[service.Key, Invoice],
) -> _Plan | None:
    card = loader.card(crow.rate_card_id).card
    fiat = card.fiat_credit_type
    ct_id = cfg.get("custom_credit_type_id") or fiat.id
    balance = available_balance(conn, loader, crow, cfg, ct_id, now, drafts)
    threshold = Decimal(str(cfg["threshold_amount"]))
    if balance > threshold:
        return None
    amount = sub(Decimal(str(cfg["recharge_to_amount"])), balance)
    if amount <= 0:
        return None
    price = Decimal(1)
    if ct_id != fiat.id:
        conv = next((c for c in card.credit_type_conversions if c.custom_credit_type_id == ct_id), None)
        if conv is None:
            log.warning(
                "contract %s: no %s conversion on its rate card; cannot invoice a recharge", crow.id, ct_id
            )
            return None
        price = conv.fiat_per_custom_credit
    period = _current_period(crow, now)
    fraction = _fraction(conn, crow, cfg, period)
    invoiced = round_to(mul(mul(amount, price), fraction), fiat.decimal_places, RoundingMode.HALF_UP)
    commit = cfg["commit"]
    start = now.replace(minute=0, second=0, microsecond=0)
    access = Period(start, _after(start, commit.get("duration")))
    applicability = {
        k: commit[k]
        for k in ("applicable_product_ids", "applicable_product_tags", "specifiers")
        if commit.get(k)
    }
    for k in ("rate_type", "rollover_fraction"):
        if commit.get(k) is not None:
            applicability[k] = commit[k]
    return _Plan(
        RECHARGE_SOURCE,
        amount=amount,
        credit_type_id=ct_id,
        access=access,
        invoiced=invoiced,
        fiat=fiat,
        fraction=fraction,
        terms=applicability,
        extra={"balance_before": balance},
    )


def available_balance(
    conn: Connection,
    loader: Loader,
    crow: Row[Any],
    cfg: dict[str, Any],
    credit_type_id: str,
    now: datetime,
    drafts: dict[service.Key, Invoice] | None = None,
) -> Decimal:
    """SPEC §5.11: the prepaid commits and credits the contract can draw (contract- and customer-level),
    in `credit_type_id`, SPEND access, segments active now, less what finalized invoices took and what
    its open usage drafts would take; balances excluded by `threshold_balance_specifiers` and seat-level
    (INDIVIDUAL) grants do not count. Postpaid commits are not a balance."""
    docs = ledger.balances_for(conn, crow.tenant_id, crow.customer_id, crow.id, now)
    excluded = _excluded(conn, crow.tenant_id, cfg, docs)
    drawn = _draft_consumption(conn, loader, crow, now, {} if drafts is None else drafts)
    out = ZERO
    for doc in docs:
        if doc["type"] == "POSTPAID" or doc["id"] in excluded:
            continue
        if (doc.get("subscription_config") or {}).get("allocation") == "INDIVIDUAL":
            continue
        c = commit_from_wire(doc)
        if c.access_type is not ri.AccessType.SPEND or (c.credit_type_id or USD_CENTS_ID) != credit_type_id:
            continue
        for seg in c.access_schedule:
            if seg.starting_at <= now < seg.ending_before:
                left = sub(sub(seg.amount, seg.consumed), drawn.get((c.id, seg.id), ZERO))
                out = add(out, max(left, ZERO))
    return out


def _draft_consumption(
    conn: Connection, loader: Loader, crow: Row[Any], now: datetime, drafts: dict[service.Key, Invoice]
) -> dict[tuple[str, str], Decimal]:
    """(balance, segment) -> what the contract's unsettled usage drafts draw from it."""
    out: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for p in service.usage_periods(crow, now):
        key = service.Key(crow.id, service.USAGE, p.starting_at, p.ending_before)
        if _settled(conn, crow, key):
            continue
        inv = _draft(loader, crow, key, now, drafts)
        for e in inv.ledger_entries:
            if (e.kind, e.commit_type) in _DRAFT_DEDUCTIONS and e.segment_id is not None:
                out[(e.commit_id, e.segment_id)] = sub(out[(e.commit_id, e.segment_id)], e.amount)
    return out


def _excluded(conn: Connection, tenant_id: str, cfg: dict[str, Any], docs: list[dict[str, Any]]) -> set[str]:
    """Balances matched by an `exclude` entry of `threshold_balance_specifiers` (all of its custom-field
    filters match)."""
    excludes = [
        ex for spec in cfg.get("threshold_balance_specifiers") or [] for ex in spec.get("exclude") or []
    ]
    if not excludes:
        return set()
    kinds = {d["id"]: d["type"] for d in docs}
    fields: dict[str, dict[str, str]] = {}
    for entity in {contracts.BALANCE_ENTITY[k] for k in kinds.values()}:
        ids = [i for i, k in kinds.items() if contracts.BALANCE_ENTITY[k] == entity]
        fields.update(custom_fields.values_for(conn, tenant_id, entity, ids))
    out = set()
    for bid, kind in kinds.items():
        for ex in excludes:
            filters = ex.get("custom_field_filters") or []
            if filters and all(
                kind in _ENTITIES.get(f["entity"], set()) and fields.get(bid, {}).get(f["key"]) == f["value"]
                for f in filters
            ):
                out.add(bid)
    return out


# ------------------------------------------------------------------------------------------- grant


def _grant(
    conn: Connection,
    loader: Loader,
    crow: Row[Any],
    cfg: dict[str, Any],
    plan: _Plan,
    now: datetime,
    at: datetime,
) -> Grant:
    """Store the commit `plan` describes, with one invoice-schedule item at `at`."""
    commit = cfg["commit"]
    earlier = [
        b
        for b in contract_balances.of_contract(conn, crow.tenant_id, crow.id)
        if (b.doc.get("threshold_billing") or {}).get("source") == plan.source
    ]
    commit_id = str(uuid.uuid5(uuid.UUID(crow.id), f"threshold:{plan.source}:{len(earlier)}"))
    key = service.Key(crow.id, service.SCHEDULED, at, at)
    doc: dict[str, Any] = {
        "id": commit_id,
        "type": "PREPAID",
        "product_id": commit["product_id"],
        "name": commit.get("name") or _product_name(loader, commit["product_id"], now),
        "priority": commit.get("priority", DEFAULT_PRIORITY),
        "rate_type": "LIST_RATE",
        **plan.terms,
        "access_schedule": {
            "access_type": "SPEND",
            "credit_type_id": plan.credit_type_id,
            "schedule_items": [
                {
                    "id": str(uuid.uuid5(uuid.UUID(commit_id), "segment")),
                    "amount": plan.amount,
                    "starting_at": plan.access.starting_at,
                    "ending_before": plan.access.ending_before,
                }
            ],
        },
        "invoice_schedule": {
            "credit_type_id": plan.fiat.id,
            "schedule_items": [
                {
                    "id": str(uuid.uuid5(uuid.UUID(commit_id), "invoice")),
                    "timestamp": at,
                    "amount": plan.invoiced,
                    "unit_price": plan.invoiced,
                    "quantity": Decimal(1),
                    "invoice_id": service.invoice_id(crow.tenant_id, key, 0),
                }
            ],
        },
        "cost_basis": div(plan.invoiced, plan.amount),
        "created_at": now,
        "threshold_billing": {"source": plan.source, **plan.extra},
    }
    if commit.get("description"):
        doc["description"] = commit["description"]
    if cfg.get("discount_configuration"):
        doc["spend_tracker_attributes"] = {"counts_as_discounted": plan.fraction < 1}
    contracts.insert_balance(conn, crow.tenant_id, crow.customer_id, crow.id, doc, None, now)
    return Grant(plan.source, commit_id, plan.amount, plan.invoiced)


def _fraction(conn: Connection, crow: Row[Any], cfg: dict[str, Any], period: Period | None) -> Decimal:
    """`payment_fraction`, unless its cap's spend tracker has already tracked `cap.amount` of commit
    purchases in the current billing period (then the full price)."""
    dc = cfg.get("discount_configuration") or {}
    if dc.get("payment_fraction") is None:
        return Decimal(1)
    fraction = Decimal(str(dc["payment_fraction"]))
    cap = dc.get("cap")
    if cap and period is not None:
        tracker = next(
            (
                s
                for s in crow.terms.get("spend_trackers") or []
                if s.get("alias") == cap["spend_tracker_alias"]
            ),
            None,
        )
        if tracker is not None and _tracked(conn, crow, tracker, period) >= Decimal(str(cap["amount"])):
            return Decimal(1)
    return fraction


def _tracked(conn: Connection, crow: Row[Any], tracker: dict[str, Any], period: Period) -> Decimal:
    """Commit-purchase spend of the contract invoiced inside `period` that the tracker counts (SPEC
    §5.17: sources THRESHOLD_RECHARGE = threshold commits, MANUAL = every other commit)."""
    specs = tracker.get("applicable_spend_specifiers") or []
    ct_id = tracker.get("credit_type_id") or USD_CENTS_ID
    out = ZERO
    for b in contract_balances.of_contract(conn, crow.tenant_id, crow.id):
        if b.kind != "PREPAID" or b.archived_at is not None:
            continue
        sched = b.doc.get("invoice_schedule") or {}
        if sched.get("do_not_invoice") or (sched.get("credit_type_id") or USD_CENTS_ID) != ct_id:
            continue
        source = "THRESHOLD_RECHARGE" if b.doc.get("threshold_billing") else "MANUAL"
        discounted = bool((b.doc.get("spend_tracker_attributes") or {}).get("counts_as_discounted"))
        if not any(_counts(s, source, discounted) for s in specs):
            continue
        for item in sched.get("schedule_items") or []:
            if period.contains(parse_timestamp(item["timestamp"], "timestamp")):
                out = add(out, Decimal(str(item.get("amount") or 0)))
    return out


def _counts(spec: dict[str, Any], source: str, discounted: bool) -> bool:
    if spec.get("spend_type", "COMMIT_PURCHASE") != "COMMIT_PURCHASE" or source not in spec.get(
        "sources", []
    ):
        return False
    mode = spec.get("discounted") or "ANY"
    return mode == "ANY" or (mode == "DISCOUNTED_ONLY") == discounted


# ------------------------------------------------------------------------------------------ helpers


def _enabled(terms: dict[str, Any] | None, archived_at: datetime | None) -> bool:
    if archived_at is not None or terms is None:
        return False
    return any((terms.get(k) or {}).get("is_enabled") for k in (config.SPEND, config.PREPAID))


def _current_period(crow: Row[Any], now: datetime) -> Period | None:
    periods = service.usage_periods(crow, now)
    if periods and periods[-1].starting_at <= now < periods[-1].ending_before:
        return periods[-1]
    return None


def _draft(
    loader: Loader, crow: Row[Any], key: service.Key, now: datetime, drafts: dict[service.Key, Invoice]
) -> Invoice:
    if key not in drafts:
        drafts[key], _ = service.compute(loader, crow, key, now)
    return drafts[key]


def _settled(conn: Connection, crow: Row[Any], key: service.Key) -> bool:
    """True unless the key still has a live DRAFT (no row yet, or a regenerated draft)."""
    rows = repo.rows_of_key(conn, crow.tenant_id, key.contract_id, key.kind, key.start, key.end)
    if not rows:
        return False
    return not any(r.void_seq == 0 and r.status == service.DRAFT for r in rows)


def _invoice_time(conn: Connection, crow: Row[Any], now: datetime) -> datetime:
    """When the threshold invoice is dated: now (whole seconds), moved on by a second while that date
    already has a SCHEDULED invoice (an issued invoice never takes new lines; only a frozen test clock can
    evaluate twice in one second) or would be consolidated onto a usage invoice."""
    at = now.replace(microsecond=0)
    consolidated = crow.terms.get("scheduled_charges_on_usage_invoices") == "ALL"
    boundaries = {p.starting_at for p in service.usage_periods(crow, now + timedelta(days=1))}
    for _ in range(3600):
        taken = repo.rows_of_key(conn, crow.tenant_id, crow.id, service.SCHEDULED, at, at)
        if not taken and not (consolidated and at in boundaries):
            return at
        at += _SECOND
    return at


def _after(start: datetime, duration: dict[str, Any] | None) -> datetime:
    """`start` plus a commit duration ({unit: DAYS|WEEKS|MONTHS|YEARS, value}); default one year."""
    unit = (duration or {}).get("unit", "YEARS")
    value = int((duration or {}).get("value", 1))
    if unit == "DAYS":
        return start + timedelta(days=value)
    if unit == "WEEKS":
        return start + timedelta(weeks=value)
    return add_months(start, value * (12 if unit == "YEARS" else 1))


def _product_name(loader: Loader, product_id: str, now: datetime) -> str | None:
    versions = loader.versions(product_id) or []
    name = None
    for start, view in versions:
        if start <= now or name is None:
            name = view.name
    return name


# ------------------------------------------------------------------------------------------ storage


def _seq(conn: Connection, contract_id: str) -> int:
    q = select(func.max(contract_edits.c.seq)).where(contract_edits.c.contract_id == contract_id)
    return int(conn.execute(q).scalar() or 0)


def _lock(conn: Connection, tenant_id: str, contract_id: str, now: datetime, skip_locked: bool) -> bool:
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


def _unsynced(conn: Connection, limit: int) -> list[Row[Any]]:
    """Contracts never read, or edited since their flags were read."""
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
