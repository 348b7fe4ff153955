"""One contract's threshold evaluation: load what the decisions need (the current period's draft, the
available balance, the payment fraction), ask `decide`, and grant and invoice what it calls for. Runs in
the caller's transaction; without `dry_run`, under the contract's lock (see the package docstring)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.contracts import service as contracts
from tally.contracts.balances import ledger
from tally.contracts.balances import service as contract_balances
from tally.contracts.terms import model
from tally.custom_fields import service as custom_fields
from tally.db.uow import WriteConn
from tally.invoices import repository as invoices_repo
from tally.invoices import service
from tally.invoices.inputs import Catalog, Loader
from tally.invoices.thresholds import balance, decide, spend_trackers
from tally.invoices.thresholds import repository as repo
from tally.invoices.thresholds.grant import Grant, grant, invoice_time
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.rating.inputs import Commit
from tally.rating.periods import Period
from tally.rating.results import Invoice

log = logging.getLogger("tally.thresholds")

Drafts = dict[service.Key, Invoice]  # usage drafts computed in one evaluation
Trackers = tuple[model.SpendTracker, ...]


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
    if not dry_run and not repo.lock(conn, tenant_id, contract_id, now, skip_locked):
        return []  # another worker is evaluating it right now
    contract_row = contracts.row(conn, tenant_id, contract_id)
    if contract_row is None:
        return []
    terms = model.parse(contract_row.terms, model.Terms)
    enabled = decide.enabled(terms, contract_row.archived_at)
    if not dry_run:
        repo.mark_evaluated(conn, contract_id, enabled, now)
    end = contract_row.ending_before
    if not enabled or now < contract_row.starting_at or (end is not None and now >= end):
        return []
    loader = Loader(conn, tenant_id, catalog)
    grants: list[Grant] = []
    at: datetime | None = None
    drafts: Drafts = {}
    # Spend first: its commit pays the period's usage, so the balance a recharge sees is unchanged by it.
    trackers = terms.spend_trackers or ()
    for cfg in (terms.spend_threshold_configuration, terms.prepaid_balance_threshold_configuration):
        if cfg is None or not cfg.is_enabled:
            continue
        if isinstance(cfg, model.SpendThresholdConfiguration):
            plan = _spend(conn, loader, contract_row, cfg, trackers, now, drafts)
        else:
            plan = _recharge(conn, loader, contract_row, cfg, trackers, now, drafts)
        if plan is None:
            continue
        if dry_run:
            grants.append(Grant(plan.source, "", plan.amount, plan.invoiced))
            continue
        at = at or invoice_time(conn, contract_row, terms, now)
        grants.append(grant(conn, loader, contract_row, cfg, plan, now, at))
        loader.forget(contract_row.id)
        drafts.clear()
    if at is not None:
        scheduled = service.Key(contract_row.id, InvoiceKind.SCHEDULED, at, at)
        # Not a dry run, so `conn` is the write its callers opened (`run`, `evaluate_now`).
        service.finalize(WriteConn(conn), loader, contract_row, scheduled, now, known_unsettled=True)
    return grants


def _spend(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    cfg: model.SpendThresholdConfiguration,
    trackers: Trackers,
    now: datetime,
    drafts: Drafts,
) -> decide.Plan | None:
    period = _current_period(contract_row, now)
    if period is None:
        return None
    key = service.Key(contract_row.id, InvoiceKind.USAGE, period.starting_at, period.ending_before)
    if _settled(conn, contract_row, key):
        return None
    inv = _draft(loader, contract_row, key, now, drafts)
    uncovered = decide.uncovered(inv)
    if not decide.spend_due(cfg, uncovered):
        return None
    fraction = _fraction(conn, contract_row, cfg, trackers, period)
    return decide.spend(uncovered, inv.credit_type, period, fraction)


def _recharge(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    cfg: model.PrepaidBalanceThresholdConfiguration,
    trackers: Trackers,
    now: datetime,
    drafts: Drafts,
) -> decide.Plan | None:
    card = loader.card(contract_row.rate_card_id).card
    fiat = card.fiat_credit_type
    ct_id = cfg.custom_credit_type_id or fiat.id
    available = _available_balance(conn, loader, contract_row, cfg, ct_id, now, drafts)
    amount = decide.recharge_amount(cfg, available)
    if amount is None:
        return None
    price = Decimal(1)
    if ct_id != fiat.id:
        conv = next((c for c in card.credit_type_conversions if c.custom_credit_type_id == ct_id), None)
        if conv is None:
            log.warning(
                "contract %s: no %s conversion on its rate card; cannot invoice a recharge",
                contract_row.id,
                ct_id,
            )
            return None
        price = conv.fiat_per_custom_credit
    fraction = _fraction(conn, contract_row, cfg, trackers, _current_period(contract_row, now))
    return decide.recharge(cfg, amount, available, ct_id, fiat, price, fraction, now)


def _available_balance(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    cfg: model.PrepaidBalanceThresholdConfiguration,
    credit_type_id: str,
    now: datetime,
    drafts: Drafts | None = None,
) -> Decimal:
    """SPEC §5.11: the prepaid commits and credits the contract can draw (contract- and customer-level),
    in `credit_type_id`, SPEND access, segments active now, less what finalized invoices took and what
    its open usage drafts would take; balances excluded by `threshold_balance_specifiers` and seat-level
    (INDIVIDUAL) grants do not count (`balance.available`)."""
    commits = ledger.commits_for(conn, contract_row.tenant_id, contract_row.customer_id, contract_row.id, now)
    excluded = _excluded(conn, contract_row.tenant_id, cfg, commits)
    drawn = balance.drawn_by(_open_drafts(conn, loader, contract_row, now, {} if drafts is None else drafts))
    return balance.available(commits, excluded, drawn, credit_type_id, now)


def _open_drafts(
    conn: Connection, loader: Loader, contract_row: Row[Any], now: datetime, drafts: Drafts
) -> list[Invoice]:
    """The drafts of the contract's unsettled usage periods."""
    out = []
    for p in service.usage_periods(contract_row, now):
        key = service.Key(contract_row.id, InvoiceKind.USAGE, p.starting_at, p.ending_before)
        if not _settled(conn, contract_row, key):
            out.append(_draft(loader, contract_row, key, now, drafts))
    return out


def _excluded(
    conn: Connection, tenant_id: str, cfg: model.PrepaidBalanceThresholdConfiguration, commits: list[Commit]
) -> set[str]:
    """Balances matched by an `exclude` entry of `threshold_balance_specifiers`."""
    excludes = balance.exclusions(cfg)
    if not excludes:
        return set()
    kinds = {c.id: c.type for c in commits}
    fields: dict[str, dict[str, str]] = {}
    for entity in {contracts.BALANCE_ENTITY[k] for k in kinds.values()}:
        ids = [i for i, k in kinds.items() if contracts.BALANCE_ENTITY[k] == entity]
        fields.update(custom_fields.values_for(conn, tenant_id, entity, ids))
    return balance.excluded(excludes, kinds, fields)


def _fraction(
    conn: Connection,
    contract_row: Row[Any],
    cfg: model.ThresholdConfiguration,
    trackers: Trackers,
    period: Period | None,
) -> Decimal:
    return spend_trackers.payment_fraction(
        cfg.discount_configuration,
        trackers,
        period,
        lambda: contract_balances.of_contract(conn, contract_row.tenant_id, contract_row.id),
    )


def _current_period(contract_row: Row[Any], now: datetime) -> Period | None:
    periods = service.usage_periods(contract_row, now)
    if periods and periods[-1].starting_at <= now < periods[-1].ending_before:
        return periods[-1]
    return None


def _draft(
    loader: Loader, contract_row: Row[Any], key: service.Key, now: datetime, drafts: Drafts
) -> Invoice:
    if key not in drafts:
        drafts[key], _ = service.compute(loader, contract_row, key, now)
    return drafts[key]


def _settled(conn: Connection, contract_row: Row[Any], key: service.Key) -> bool:
    """True unless the key still has a live DRAFT (no row yet, or a regenerated draft)."""
    rows = invoices_repo.rows_of_key(
        conn, contract_row.tenant_id, key.contract_id, key.kind, key.start, key.end
    )
    if not rows:
        return False
    return not any(r.void_seq == 0 and r.status == InvoiceStatus.DRAFT for r in rows)
