"""The v1 `Contract` (initial / current / amendments) and v2 `ContractV2` read shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tally.contracts.service import Balance, Contract
from tally.contracts.wire import (
    Names,
    balance_wire,
    override_wire,
    pro_service_wire,
    recurring_wire,
    scheduled_wire,
    subscription_wire,
)
from tally.rating.inputs import Frequency, RatingInputError
from tally.rating.periods import boundary, index_at, utc
from tally.wire import format_timestamp, parse_timestamp

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


def _uss(terms: Doc) -> Doc:
    u = terms["usage_statement_schedule"]
    return {"billing_anchor_date": u["billing_anchor_date"], "frequency": u["frequency"]}


def _billing_periods(s: Doc, now: datetime) -> Doc:
    """The subscription's previous / current / next billing periods around `now`."""
    try:
        start = parse_timestamp(s["starting_at"], "starting_at")
        anchor = parse_timestamp(
            (s.get("billing_cycle_config") or {}).get("anchor_date") or s["starting_at"], "anchor"
        )
        end = parse_timestamp(s["ending_before"], "ending_before") if s.get("ending_before") else None
        freq = Frequency(s["subscription_rate"]["billing_frequency"])
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
    c: Contract, terms: Doc, balances: list[Balance], names: Names, now: datetime, flags: Doc
) -> Doc:
    inc_bal, inc_led = bool(flags.get("include_balance")), bool(flags.get("include_ledgers"))
    commits = [b for b in balances if b.kind != "CREDIT"]
    credits = [b for b in balances if b.kind == "CREDIT"]
    out: Doc = {
        "commits": [
            balance_wire(b, names, now, include_balance=inc_bal, include_ledgers=inc_led) for b in commits
        ],
        "credits": [
            balance_wire(b, names, now, include_balance=inc_bal, include_ledgers=inc_led) for b in credits
        ],
        "overrides": [override_wire(o, names) for o in terms.get("overrides", [])],
        "scheduled_charges": [
            scheduled_wire(s, names, "scheduled_charge") for s in terms.get("scheduled_charges", [])
        ],
        "discounts": [scheduled_wire(s, names, "discount") for s in terms.get("discounts", [])],
        "professional_services": [pro_service_wire(p, names) for p in terms.get("professional_services", [])],
        "recurring_commits": [
            recurring_wire(r, names, c.id, False) for r in terms.get("recurring_commits", [])
        ],
        "recurring_credits": [
            recurring_wire(r, names, c.id, True) for r in terms.get("recurring_credits", [])
        ],
        "starting_at": terms["starting_at"],
        "transitions": [
            {k: t[k] for k in ("from_contract_id", "to_contract_id", "type")}
            for t in terms.get("transitions", [])
        ],
        "usage_statement_schedule": _uss(terms),
        "created_at": c.created_at,
        "created_by": c.created_by,
    }
    for key in _ECHO:
        if terms.get(key) is not None:
            out[key] = terms[key]
    if terms.get("multiplier_override_prioritization"):
        out["multiplier_override_prioritization"] = terms["multiplier_override_prioritization"]
    return out


def _usage_filter_v1(terms: Doc) -> Doc | None:
    versions = terms.get("usage_filter") or []
    if not versions:
        return None
    first = versions[0]
    return {
        "initial": {k: first[k] for k in ("group_key", "group_values", "starting_at") if k in first},
        "updates": [{k: v[k] for k in ("group_key", "group_values", "starting_at")} for v in versions[1:]],
        "current": {
            k: versions[-1][k] for k in ("group_key", "group_values", "starting_at") if k in versions[-1]
        },
    }


def _usage_filter_v2(terms: Doc) -> list[Doc]:
    versions = terms.get("usage_filter") or []
    out = []
    for i, v in enumerate(versions):
        item = {
            "group_key": v["group_key"],
            "group_values": v["group_values"],
            "starting_at": v["starting_at"],
        }
        if i + 1 < len(versions):
            item["ending_before"] = versions[i + 1]["starting_at"]
        out.append(item)
    return out


def v1(c: Contract, names: Names, now: datetime, flags: Doc) -> Doc:
    amendments = [e for e in c.edits if e.kind == "AMEND"]
    base = [b for b in c.balances if b.amendment_id is None]
    current = _terms_wire(c, c.terms, c.balances, names, now, flags)
    initial = _terms_wire(c, c.initial_terms, base, names, now, flags)
    uf = _usage_filter_v1(c.terms)
    if uf is not None:
        current["usage_filter"] = uf
    uf0 = _usage_filter_v1(c.initial_terms)
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
            subscription_wire(s, names, _billing_periods(s, now), now)
            for s in c.terms.get("subscriptions", [])
        ],
    }
    for key in (
        "scheduled_charges_on_usage_invoices",
        "spend_threshold_configuration",
        "prepaid_balance_threshold_configuration",
        "spend_trackers",
    ):
        if c.terms.get(key) is not None:
            out[key] = c.terms[key]
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
    t = _terms_wire(
        c,
        {**changes, "usage_statement_schedule": c.terms["usage_statement_schedule"]},
        mine,
        names,
        now,
        flags,
    )
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
    out.update(id=edit_id, created_at=created_at, created_by=created_by, starting_at=changes["starting_at"])
    for key in ("netsuite_sales_order_id", "salesforce_opportunity_id"):
        if changes.get(key):
            out[key] = changes[key]
    return out


def v2(c: Contract, names: Names, now: datetime, flags: Doc) -> Doc:
    out = _terms_wire(c, c.terms, c.balances, names, now, flags)
    out.update(
        id=c.id,
        customer_id=c.customer_id,
        usage_filter=_usage_filter_v2(c.terms),
        custom_fields=names.fields("contract", c.id),
        subscriptions=[
            subscription_wire(s, names, _billing_periods(s, now), now)
            for s in c.terms.get("subscriptions", [])
        ],
    )
    hc = c.terms.get("hierarchy_configuration") or {}
    if hc.get("parent"):  # only the child side is known here; a parent's children are other contracts
        out["hierarchy_configuration"] = {
            k: hc[k] for k in ("parent", "payer", "usage_statement_behavior") if k in hc
        }
    if c.archived_at is not None:
        out["archived_at"] = c.archived_at
    if c.uniqueness_key is not None:
        out["uniqueness_key"] = c.uniqueness_key
    return out
