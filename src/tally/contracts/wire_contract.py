"""The v1 `Contract` (initial / current / amendments) and v2 `ContractV2` read shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tally.contracts.service import Balance, Contract
from tally.contracts.terms import model
from tally.contracts.terms.model import json_of, pick
from tally.contracts.wire import (
    Names,
    balance_wire,
    override_wire,
    pro_service_wire,
    recurring_wire,
    scheduled_wire,
    subscription_wire,
)
from tally.rating.inputs import CommitType, RatingInputError
from tally.rating.periods import boundary, index_at, utc
from tally.wire import format_timestamp

Doc = dict[str, Any]

# Terms echoed as stored on both shapes.
_ECHO = (
    "name",
    "net_payment_terms_days",
    "netsuite_sales_order_id",
    "salesforce_opportunity_id",
    "rate_card_id",
    "scheduled_charges_on_usage_invoices",
    "total_contract_value",
    "spend_threshold_configuration",
    "prepaid_balance_threshold_configuration",
    "spend_trackers",
    "ending_before",
)


def _billing_periods(s: model.Subscription, now: datetime) -> Doc:
    """The subscription's previous / current / next billing periods around `now`."""
    try:
        start = s.starting_at
        anchor = (s.billing_cycle_config and s.billing_cycle_config.anchor_date) or s.starting_at
        end = s.ending_before
        freq = s.subscription_rate.billing_frequency
        t = max(utc(now), start)
        if end is not None and t >= end:
            return {}
        n = index_at(anchor, freq, t)
        out: Doc = {}
        for name, k in (("previous", n - 1), ("current", n), ("next", n + 1)):
            lo, hi = max(boundary(anchor, freq, k), start), boundary(anchor, freq, k + 1)
            if end is not None:
                hi = min(hi, end)
            if lo < hi and (end is None or lo < end) and hi > start:
                out[name] = {"starting_at": format_timestamp(lo), "ending_before": format_timestamp(hi)}
        return out
    except (RatingInputError, ValueError):
        return {}


def _terms_wire(
    c: Contract,
    terms: model.Terms | model.Amendment,
    uss: model.UsageStatementSchedule,
    balances: list[Balance],
    names: Names,
    now: datetime,
    flags: Doc,
) -> Doc:
    inc_bal, inc_led = bool(flags.get("include_balance")), bool(flags.get("include_ledgers"))
    commits = [b for b in balances if b.kind != CommitType.CREDIT]
    credits = [b for b in balances if b.kind == CommitType.CREDIT]
    out: Doc = {
        "commits": [
            balance_wire(b, names, now, include_balance=inc_bal, include_ledgers=inc_led) for b in commits
        ],
        "credits": [
            balance_wire(b, names, now, include_balance=inc_bal, include_ledgers=inc_led) for b in credits
        ],
        "overrides": [override_wire(o, names) for o in terms.overrides or ()],
        "scheduled_charges": [
            scheduled_wire(s, names, "scheduled_charge") for s in terms.scheduled_charges or ()
        ],
        "discounts": [scheduled_wire(s, names, "discount") for s in terms.discounts or ()],
        "professional_services": [pro_service_wire(p, names) for p in terms.professional_services or ()],
        "recurring_commits": [recurring_wire(r, names, c.id, False) for r in terms.recurring_commits or ()],
        "recurring_credits": [recurring_wire(r, names, c.id, True) for r in terms.recurring_credits or ()],
        "starting_at": format_timestamp(terms.starting_at),
        "transitions": [
            {"from_contract_id": t.from_contract_id, "to_contract_id": t.to_contract_id, "type": t.type}
            for t in (terms.transitions if isinstance(terms, model.Terms) else ())
        ],
        "usage_statement_schedule": {
            "billing_anchor_date": json_of(uss.billing_anchor_date),
            "frequency": uss.frequency,
        },
        "created_at": c.created_at,
        "created_by": c.created_by,
    }
    for key in _ECHO:
        if (value := getattr(terms, key, None)) is not None:
            out[key] = json_of(value)
    if isinstance(terms, model.Terms):
        out["multiplier_override_prioritization"] = terms.multiplier_override_prioritization
    return out


_FILTER_KEYS = ("group_key", "group_values", "starting_at")


def _usage_filter_v1(terms: model.Terms) -> Doc | None:
    versions = terms.usage_filter
    if not versions:
        return None
    return {
        "initial": pick(versions[0], _FILTER_KEYS),
        "updates": [pick(v, _FILTER_KEYS) for v in versions[1:]],
        "current": pick(versions[-1], _FILTER_KEYS),
    }


def _usage_filter_v2(terms: model.Terms) -> list[Doc]:
    versions = terms.usage_filter
    out = []
    for i, v in enumerate(versions):
        item = pick(v, _FILTER_KEYS)
        if i + 1 < len(versions):
            item["ending_before"] = format_timestamp(versions[i + 1].starting_at)
        out.append(item)
    return out


def v1(c: Contract, names: Names, now: datetime, flags: Doc) -> Doc:
    amendments = [e for e in c.edits if e.kind == "AMEND"]
    base = [b for b in c.balances if b.amendment_id is None]
    terms, initial_terms = c.parsed, c.initial_parsed
    current = _terms_wire(c, terms, terms.usage_statement_schedule, c.balances, names, now, flags)
    initial = _terms_wire(c, initial_terms, initial_terms.usage_statement_schedule, base, names, now, flags)
    uf = _usage_filter_v1(terms)
    if uf is not None:
        current["usage_filter"] = uf
    uf0 = _usage_filter_v1(initial_terms)
    if uf0 is not None:
        initial["usage_filter"] = uf0
    out: Doc = {
        "id": c.id,
        "customer_id": c.customer_id,
        "current": current,
        "initial": initial,
        "amendments": [
            _amendment(c, e.id, e.changes, e.created_at, e.created_by, names, now, flags) for e in amendments
        ],
        "custom_fields": names.fields("contract", c.id),
        "subscriptions": [
            subscription_wire(s, names, _billing_periods(s, now), now) for s in terms.subscriptions
        ],
    }
    for key in (
        "scheduled_charges_on_usage_invoices",
        "spend_threshold_configuration",
        "prepaid_balance_threshold_configuration",
        "spend_trackers",
    ):
        if (value := getattr(terms, key)) is not None:
            out[key] = json_of(value)
    if c.archived_at is not None:
        out["archived_at"] = c.archived_at
    if c.uniqueness_key is not None:
        out["uniqueness_key"] = c.uniqueness_key
    return out


def _amendment(
    c: Contract,
    edit_id: str,
    changes: Doc,
    created_at: datetime,
    created_by: str,
    names: Names,
    now: datetime,
    flags: Doc,
) -> Doc:
    mine = [b for b in c.balances if b.amendment_id == edit_id]
    amendment = model.parse(changes, model.Amendment)
    t = _terms_wire(c, amendment, c.parsed.usage_statement_schedule, mine, names, now, flags)
    out = {
        k: t[k]
        for k in (
            "commits",
            "credits",
            "overrides",
            "scheduled_charges",
            "discounts",
            "professional_services",
        )
    }
    out.update(
        id=edit_id,
        created_at=created_at,
        created_by=created_by,
        starting_at=format_timestamp(amendment.starting_at),
    )
    for key in ("netsuite_sales_order_id", "salesforce_opportunity_id"):
        if value := getattr(amendment, key):
            out[key] = value
    return out


def v2(c: Contract, names: Names, now: datetime, flags: Doc) -> Doc:
    terms = c.parsed
    out = _terms_wire(c, terms, terms.usage_statement_schedule, c.balances, names, now, flags)
    out.update(
        id=c.id,
        customer_id=c.customer_id,
        usage_filter=_usage_filter_v2(terms),
        custom_fields=names.fields("contract", c.id),
        subscriptions=[
            subscription_wire(s, names, _billing_periods(s, now), now) for s in terms.subscriptions
        ],
    )
    hc = terms.hierarchy_configuration or {}
    if hc.get("parent"):  # only the child side is known here; a parent's children are other contracts
        out["hierarchy_configuration"] = {
            k: hc[k] for k in ("parent", "payer", "usage_statement_behavior") if k in hc
        }
    if c.archived_at is not None:
        out["archived_at"] = c.archived_at
    if c.uniqueness_key is not None:
        out["uniqueness_key"] = c.uniqueness_key
    return out
