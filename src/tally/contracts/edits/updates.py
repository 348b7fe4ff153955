"""The `update_*` parts of a v2 contract edit that change templates rather than balances (SPEC §5.7, §5.8,
§5.10, §5.11): recurring commits/credits, subscriptions and the two threshold configurations.

Each `update_*` is a step of `lifecycle.EDIT_STEPS`: it validates its part of the request against the
contract's typed terms, returns the terms with that part applied, and records what it changed in the
context's `changes` (the edit history). Nothing is written here except by `sync_recurring_children`,
which runs after the terms are stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from msgspec.structs import replace
from sqlalchemy import Connection

from tally.contracts import repository as repo
from tally.contracts.balances import recurring
from tally.contracts.edits.context import EditContext
from tally.contracts.edits.schemas import (
    EditContract,
    UpdatePrepaidBalanceThresholdConfiguration,
    UpdatePrepaidBalanceThresholdConfigurationCommit,
)
from tally.contracts.seats import updates as seats
from tally.contracts.service import Balance
from tally.contracts.terms import model
from tally.contracts.terms.model import plain
from tally.contracts.terms.normalize import Doc, Terms, dump
from tally.errors import BadRequest
from tally.kit.api import hour_aligned
from tally.wire import as_timestamp

AmountT = TypeVar("AmountT", model.AccessAmount, model.InvoiceAmount)
C = TypeVar("C", bound=model.ThresholdConfiguration)
_RECURRING = (
    ("update_recurring_commits", "recurring_commits", "recurring_commit_id", False),
    ("update_recurring_credits", "recurring_credits", "recurring_credit_id", True),
)


# ------------------------------------------------------------------------------ recurring (§5.7)


def update_recurring(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """update_recurring_commits / update_recurring_credits: the templates changed (their ids are
    `touched`: their children are re-derived after the terms are stored)."""
    t = ctx.checker()
    for key, lst, idk, _ in _RECURRING:
        for i, raw in enumerate(getattr(req, key) or []):
            field = f"{key}[{i}]"
            upd = dump(raw)
            rid = upd.pop(idk)
            items: tuple[model.Recurring, ...] = getattr(terms, lst)
            found = [r for r in items if r.id == rid]
            if not found:
                raise BadRequest(f"{field}.{idk}: {rid} is not on this contract")
            if not upd:
                raise BadRequest(f"{field}: nothing to update")
            new = found[0]
            if "ending_before" in upd:
                end = hour_aligned(upd["ending_before"], f"{field}.ending_before")
                if end <= new.starting_at:
                    raise BadRequest(f"{field}.ending_before: must be after the template's starting_at")
                new = replace(new, ending_before=end)
            if "access_amount" in upd:
                new = replace(new, access_amount=_amount(t, new.access_amount, upd, "access_amount", field))
            if "invoice_amount" in upd:
                if new.invoice_amount is None:
                    raise BadRequest(f"{field}.invoice_amount: this recurring commit has no invoice amount")
                new = replace(
                    new, invoice_amount=_amount(t, new.invoice_amount, upd, "invoice_amount", field)
                )
            if "rate_type" in upd:
                new = replace(new, rate_type=model.BalanceRateType(upd["rate_type"]))
            if "proration_rounding" in upd:
                given = {k: model.parse(v, model.Rounding) for k, v in upd["proration_rounding"].items()}
                new = replace(
                    new,
                    proration_rounding=replace(new.proration_rounding or model.ProrationRounding(), **given),
                )
            terms = replace(terms, **{lst: tuple(new if r.id == rid else r for r in items)})
            ctx.touched.add(rid)
            ctx.changes.setdefault(key, []).append({idk: rid, **upd})
    return terms


def _amount(t: Terms, current: AmountT, upd: Doc, part: str, field: str) -> AmountT:
    for k, v in upd[part].items():
        t.non_negative(v, f"{field}.{part}.{k}")
    return replace(current, **upd[part])


def sync_recurring_children(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contract_id: str,
    terms: model.Terms,
    touched: set[str],
    now: datetime,
) -> None:
    """Re-derive the children of changed templates whose access has not started (SPEC §5.7). A child
    whose access has started keeps its amount (its purchase may be invoiced already); only its access end
    follows a shortened contract end. Children no longer wanted are deleted (archived if they carry
    ledger entries); missing ones are inserted by the idempotent `recurring.materialize`."""
    if not touched:
        return
    stored = [Balance.of(row) for row in repo.balances_of_contracts(conn, tenant_id, [contract_id])]
    for _, lst, idk, credit in _RECURRING:
        templates: tuple[model.Recurring, ...] = getattr(terms, lst)
        for r in templates:
            if r.id not in touched:
                continue
            wanted = {d["id"]: d for d in recurring.children(terms, r, credit, now + recurring.HORIZON)}
            for b in stored:
                if getattr(b.parsed, idk) != r.id or b.archived_at is not None:
                    continue
                start = b.parsed.access_schedule.schedule_items[0].starting_at
                if start <= now and b.id in wanted:
                    _truncate_started(conn, tenant_id, b, wanted[b.id])
                    continue
                if b.id in wanted:
                    repo.update_balance(conn, tenant_id, b.id, {"doc": plain(wanted[b.id])})
                elif repo.entries_of(conn, tenant_id, [b.id]):
                    repo.update_balance(conn, tenant_id, b.id, {"archived_at": now})
                else:
                    repo.delete_balance(conn, tenant_id, b.id)
    recurring.materialize(conn, tenant_id, customer_id, contract_id, model.dump(terms), now)


def _truncate_started(conn: Connection, tenant_id: str, b: Balance, want: Doc) -> None:
    """A started child keeps its amount (and only its first segment); its access ends no later than the
    re-derived child's."""
    child = b.parsed
    seg = child.access_schedule.schedule_items[0]
    new_end = as_timestamp(want["access_schedule"]["schedule_items"][0]["ending_before"])
    if new_end >= seg.ending_before:
        return
    access = replace(child.access_schedule, schedule_items=(replace(seg, ending_before=new_end),))
    repo.update_balance(conn, tenant_id, b.id, {"doc": model.dump(replace(child, access_schedule=access))})


def all_recurring_ids(terms: model.Terms) -> set[str]:
    """Every recurring commit/credit template id of a contract (a contract end change touches them all)."""
    return {r.id for r in (*terms.recurring_commits, *terms.recurring_credits)}


# ---------------------------------------------------------------------------- subscriptions (§5.8)


def quantity_steps(sub: model.Subscription) -> list[tuple[datetime, Decimal]]:
    """(effective date, quantity from then on): updates by date, in the order sent on equal dates (the
    rating engine's `quantity_at` rule); the first step is the initial quantity at the start."""
    q = Decimal(sub.initial_quantity or 0)
    steps = [(sub.starting_at, q)]
    for u in sorted(sub.quantity_updates or (), key=lambda u: as_timestamp(u["starting_at"])):
        given = u.get("quantity")
        q = Decimal(given) if given is not None else q + Decimal(u["quantity_delta"])
        at = max(as_timestamp(u["starting_at"]), steps[0][0])
        if steps[-1][0] == at:
            steps[-1] = (at, q)
        else:
            steps.append((at, q))
    return steps


def update_subscriptions(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    t = ctx.checker()
    for i, raw in enumerate(req.update_subscriptions or []):
        field = f"update_subscriptions[{i}]"
        upd = dump(raw)
        sid = upd.pop("subscription_id")
        found = [s for s in terms.subscriptions if s.id == sid]
        if not found:
            raise BadRequest(f"{field}.subscription_id: {sid} is not on this contract")
        if not upd:
            raise BadRequest(f"{field}: nothing to update")
        new = found[0]
        start = new.starting_at
        if "ending_before" in upd:
            end = hour_aligned(upd["ending_before"], f"{field}.ending_before")
            if end <= start:
                raise BadRequest(f"{field}.ending_before: must be after the subscription's starting_at")
            new = replace(new, ending_before=end)
        if "name" in upd:
            new = replace(new, name=upd["name"])
        if "proration_rounding" in upd:
            new = replace(new, proration=plain({**new.proration, "rounding": upd["proration_rounding"]}))
        updates = upd.get("quantity_updates")
        if updates is not None:
            if new.quantity_management_mode == model.QuantityManagementMode.SEAT_BASED:
                msg = "not for SEAT_BASED subscriptions (use seat_updates)"
                raise BadRequest(f"{field}.quantity_updates: {msg}")
            if not updates:
                raise BadRequest(f"{field}.quantity_updates: at least one update is required")
            end_at = new.ending_before
            for j, u in enumerate(updates):
                uf = f"{field}.quantity_updates[{j}]"
                at = hour_aligned(u["starting_at"], f"{uf}.starting_at")
                if at < start or (end_at is not None and at >= end_at):
                    raise BadRequest(f"{uf}.starting_at: must fall within the subscription")
                has_q, has_d = u.get("quantity") is not None, u.get("quantity_delta") is not None
                if has_q == has_d:
                    raise BadRequest(f"{uf}: give exactly one of quantity or quantity_delta")
                t.non_negative(u.get("quantity"), f"{uf}.quantity")
                if has_d and u["quantity_delta"] == 0:
                    raise BadRequest(f"{uf}.quantity_delta: must not be 0")
            new = replace(new, quantity_updates=(*(new.quantity_updates or ()), *plain(updates)))
            for at, q in quantity_steps(new):
                if q < 0:
                    raise BadRequest(
                        f"{field}.quantity_updates: the quantity would become {q} at {plain(at)}"
                    )
        if "quantity_management_mode_update" in upd or "seat_updates" in upd:
            # The seat rules work on the stored document of the subscription.
            doc = model.dump(new)
            if "quantity_management_mode_update" in upd:
                mode = "quantity_management_mode_update"
                seats.convert(doc, upd[mode], f"{field}.{mode}")
            if "seat_updates" in upd:
                seats.apply_updates(doc, upd["seat_updates"], f"{field}.seat_updates")
            new = model.parse(plain(doc), model.Subscription)
        subs = tuple(new if s.id == sid else s for s in terms.subscriptions)
        terms = replace(terms, subscriptions=subs)
        ctx.changes.setdefault("update_subscriptions", []).append({"subscription_id": sid, **upd})
    return terms


# ---------------------------------------------------------------------- thresholds (§5.10, §5.11)

_THRESHOLDS = (
    ("update_spend_threshold_configuration", "spend_threshold_configuration"),
    ("update_prepaid_balance_threshold_configuration", "prepaid_balance_threshold_configuration"),
)
# Parts an update merges field by field; every other field it names is replaced whole.
_NESTED = ("commit", "discount_configuration")


def update_thresholds(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """Merge the given fields into the stored configuration (nested commit / discount_configuration
    field by field); contracts.thresholds checks the result, invoices.thresholds bills it."""
    t = ctx.checker()
    for key, dst in _THRESHOLDS:
        given = getattr(req, key)
        if given is None:
            continue
        current: model.ThresholdConfiguration | None = getattr(terms, dst)
        if current is None:
            raise BadRequest(f"{key}: the contract has no {dst} (use add_{dst})")
        upd = dump(given)
        if not upd:
            raise BadRequest(f"{key}: nothing to update")
        commit = given.commit
        if commit is not None:
            if commit.product_id:
                t.product(commit.product_id, f"{key}.commit.product_id", {"FIXED"})
            t.positive(commit.priority, f"{key}.commit.priority")
            if isinstance(commit, UpdatePrepaidBalanceThresholdConfigurationCommit):
                rf = commit.rollover_fraction
                if rf is not None and not (0 <= rf <= 1):
                    raise BadRequest(f"{key}.commit.rollover_fraction: must be between 0 and 1")
                if commit.specifiers or commit.applicable_product_ids or commit.applicable_product_tags:
                    t.applicability(upd["commit"], f"{key}.commit")
        t.non_negative(given.threshold_amount, f"{key}.threshold_amount")
        if isinstance(given, UpdatePrepaidBalanceThresholdConfiguration):
            t.non_negative(given.recharge_to_amount, f"{key}.recharge_to_amount")
        pf = given.discount_configuration.payment_fraction if given.discount_configuration else None
        if pf is not None and not (0 <= pf <= 1):
            raise BadRequest(f"{key}.discount_configuration.payment_fraction: must be between 0 and 1")
        if isinstance(given, UpdatePrepaidBalanceThresholdConfiguration) and given.custom_credit_type_id:
            t.credit_type(given.custom_credit_type_id, f"{key}.custom_credit_type_id")
        merged = merge(current, upd)
        if (
            isinstance(merged, model.PrepaidBalanceThresholdConfiguration)
            and merged.recharge_to_amount < merged.threshold_amount
        ):
            raise BadRequest(f"{key}.recharge_to_amount: must not be below threshold_amount")
        terms = replace(terms, **{dst: merged})
        ctx.changes[key] = upd
    return terms


def merge(current: C, update: Doc) -> C:
    """`current` with the fields `update` names (as JSON) changed: `_NESTED` parts field by field (a part
    `current` lacks is started from the update), every other field replaced whole."""
    fields = {
        k: {**model.json_of(getattr(current, k) or {}), **v} if k in _NESTED else v for k, v in update.items()
    }
    return model.parse({**model.dump(current), **fields}, type(current))
