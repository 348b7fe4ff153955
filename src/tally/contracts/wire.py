"""Read shapes shared by v1 and v2 contracts and the balance endpoints (Commit, Credit, Override, ...).

Stored documents keep ids (`product_id`, `credit_type_id`); reads expand them to `{id, name}` objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tally.contracts.balances import ledger
from tally.contracts.edits.updates import quantity_steps
from tally.contracts.service import BALANCE_ENTITY, TERM_ENTITIES, Balance, Contract
from tally.contracts.terms import model
from tally.contracts.terms.model import dump, json_of, pick
from tally.custom_fields import service as custom_fields
from tally.products import service as products
from tally.rate_cards.rates import credit_type_names
from tally.rating.inputs import AccessType, CommitType
from tally.wire import format_timestamp, parse_timestamp

Doc = dict[str, Any]


@dataclass
class Names:
    """Product and credit-type names and custom fields for everything one response mentions, batched."""

    products: dict[str, str] = field(default_factory=dict)
    credit_types: dict[str, str] = field(default_factory=dict)
    custom: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    entries: dict[str, list[ledger.Entry]] = field(default_factory=dict)

    def product(self, product_id: str) -> Doc:
        return {"id": product_id, "name": self.products.get(product_id, "")}

    def credit_type(self, credit_type_id: str) -> Doc:
        return {"id": credit_type_id, "name": self.credit_types.get(credit_type_id, "")}

    def fields(self, entity: str, object_id: str) -> dict[str, str]:
        return self.custom.get(entity, {}).get(object_id, {})


def _walk_ids(value: Any, products_out: set[str], cts: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "product_id" and isinstance(v, str):
                products_out.add(v)
            elif k == "credit_type_id" and isinstance(v, str):
                cts.add(v)
            else:
                _walk_ids(v, products_out, cts)
    elif isinstance(value, list):
        for v in value:
            _walk_ids(v, products_out, cts)


def names_for(
    conn: Connection,
    tenant_id: str,
    contracts: Iterable[Contract],
    balances: Iterable[Balance],
    now: datetime,
    *,
    ledgers: bool,
) -> Names:
    cs, bs = list(contracts), list(balances)
    all_balances = bs + [b for c in cs for b in c.balances]
    pids: set[str] = set()
    cts: set[str] = set()
    for c in cs:
        _walk_ids(c.terms, pids, cts)
        _walk_ids(c.initial_terms, pids, cts)
        for e in c.edits:
            _walk_ids(e.changes, pids, cts)
    for b in all_balances:
        _walk_ids(b.doc, pids, cts)
    found = products.get_many(conn, tenant_id, sorted(pids), now)
    names = Names(
        products={i: p.name for i, p in found.items()},
        credit_types=credit_type_names(conn, tenant_id, cts),
    )
    names.custom["contract"] = custom_fields.values_for(conn, tenant_id, "contract", [c.id for c in cs])
    for entity in sorted(set(BALANCE_ENTITY.values())):
        names.custom[entity] = custom_fields.values_for(
            conn, tenant_id, entity, [b.id for b in all_balances if BALANCE_ENTITY[b.kind] == entity]
        )
    for key, entity in TERM_ENTITIES.items():
        ids = [t["id"] for c in cs for t in c.terms.get(key, [])]
        names.custom[entity] = custom_fields.values_for(conn, tenant_id, entity, ids)
    names.entries = dict(ledger.entries_by_balance(conn, tenant_id, [b.id for b in all_balances]))
    return names


def schedule_wire(s: model.InvoiceSchedule, names: Names) -> Doc:
    out: Doc = {
        "credit_type": names.credit_type(s.credit_type_id),
        "schedule_items": [
            pick(i, ("id", "timestamp", "amount", "quantity", "unit_price", "invoice_id"))
            for i in s.schedule_items
        ],
    }
    if s.do_not_invoice is not None:
        out["do_not_invoice"] = s.do_not_invoice
    return out


def access_wire(a: model.AccessSchedule, names: Names) -> Doc:
    out: Doc = {
        "schedule_items": [
            pick(i, ("id", "amount", "starting_at", "ending_before")) for i in a.schedule_items
        ],
        "access_type": a.access_type or AccessType.SPEND,
    }
    if a.credit_type_id:
        out["credit_type"] = names.credit_type(a.credit_type_id)
    return out


_BALANCE_KEYS = (
    "applicable_product_ids",
    "applicable_product_tags",
    "specifiers",
    "priority",
    "rate_type",
    "rollover_fraction",
    "name",
    "description",
    "netsuite_sales_order_id",
    "salesforce_opportunity_id",
    "hierarchy_configuration",
    "rolled_over_from",
    "uniqueness_key",
    "applicable_contract_ids",
    "recurring_commit_id",
    "recurring_credit_id",
)


def balance_wire(
    b: Balance,
    names: Names,
    now: datetime,
    *,
    include_balance: bool,
    include_ledgers: bool,
    with_contract: bool = True,
) -> Doc:
    d = b.parsed
    out: Doc = {
        "id": b.id,
        "type": b.kind,
        "product": names.product(d.product_id),
        "created_at": format_timestamp(d.created_at),
    }
    out["access_schedule"] = access_wire(d.access_schedule, names)
    out.update(pick(d, _BALANCE_KEYS))
    if d.type is not CommitType.CREDIT:
        if d.invoice_schedule:
            out["invoice_schedule"] = schedule_wire(d.invoice_schedule, names)
        if d.cost_basis is not None:
            out["cost_basis"] = d.cost_basis
        if d.spend_tracker_attributes:
            out["spend_tracker_attributes"] = dump(d.spend_tracker_attributes)
        if d.invoice_contract_id:
            out["invoice_contract"] = {"id": d.invoice_contract_id}
    elif d.rolled_over_from is not None:
        rof = d.rolled_over_from
        out["rolled_over_from"] = {
            "contract_id": rof.contract_id,
            "credit_id": rof.credit_id if rof.credit_id is not None else rof.commit_id,
        }
    if b.contract_id is not None and with_contract:
        out["contract"] = {"id": b.contract_id}
    if b.archived_at is not None:
        out["archived_at"] = b.archived_at
    out["custom_fields"] = names.fields(BALANCE_ENTITY[b.kind], b.id)
    entries = names.entries.get(b.id, [])
    if include_balance:
        out["balance"] = ledger.balance_at(b.doc, entries, b.archived_at, now)
    if include_ledgers:
        out["ledger"] = [e.to_wire(b.kind) for e in ledger.ledger(b.kind, b.doc, entries, b.archived_at, now)]
    return out


def override_wire(o: model.Override, names: Names) -> Doc:
    out = pick(
        o,
        (
            "id",
            "created_at",
            "starting_at",
            "ending_before",
            "applicable_product_tags",
            "entitled",
            "is_commit_specific",
            "multiplier",
            "priority",
            "target",
            "type",
        ),
    )
    if o.product_id:
        out["product"] = names.product(o.product_id)
    if o.override_specifiers:
        out["override_specifiers"] = json_of(o.override_specifiers)
    if o.tiers:
        out["override_tiers"] = json_of(o.tiers)
    ow = o.overwrite_rate
    if ow:
        rate = pick(ow, ("rate_type", "custom_rate", "is_prorated", "price", "quantity", "tiers"))
        if ow.credit_type_id:
            rate["credit_type"] = names.credit_type(ow.credit_type_id)
        out["overwrite_rate"] = rate
    return out


def scheduled_wire(s: model.ScheduledCharge, names: Names, entity: str) -> Doc:
    out = pick(s, ("id", "name", "netsuite_sales_order_id", "archived_at"))
    out["product"] = names.product(s.product_id)
    out["schedule"] = schedule_wire(s.schedule, names)
    out["custom_fields"] = names.fields(entity, s.id)
    return out


def pro_service_wire(p: model.ProfessionalService, names: Names) -> Doc:
    out = pick(
        p,
        (
            "id",
            "product_id",
            "max_amount",
            "quantity",
            "unit_price",
            "description",
            "netsuite_sales_order_id",
        ),
    )
    out["custom_fields"] = names.fields("professional_service", p.id)
    return out


def recurring_wire(r: model.Recurring, names: Names, contract_id: str, credit: bool) -> Doc:
    keys = [
        "id",
        "access_amount",
        "commit_duration",
        "priority",
        "rate_type",
        "starting_at",
        "ending_before",
        "applicable_product_ids",
        "applicable_product_tags",
        "description",
        "hierarchy_configuration",
        "name",
        "netsuite_sales_order_id",
        "proration",
        "recurrence_frequency",
        "rollover_fraction",
        "specifiers",
        "subscription_config",
    ]
    if not credit:
        keys.append("invoice_amount")
    out = pick(r, keys)
    rounding = r.proration_rounding
    if rounding:
        out["proration_rounding"] = json_of(
            rounding if not credit else model.ProrationRounding(access=rounding.access)
        )
    out["access_amount"].setdefault("access_type", model.AccessType.SPEND)
    out["product"] = names.product(r.product_id)
    out["anchor_date"] = format_timestamp(r.starting_at)
    out["contract"] = {"id": contract_id}
    return out


def quantity_schedule(s: model.Subscription, now: datetime | None) -> list[Doc]:
    """The quantity in force now and the future changes (all of it when `now` is None)."""
    steps = quantity_steps(s)
    out: list[Doc] = []
    for i, (at, q) in enumerate(steps):
        item: Doc = {"quantity": q, "starting_at": format_timestamp(at)}
        hi = steps[i + 1][0] if i + 1 < len(steps) else s.ending_before
        if hi is not None:
            item["ending_before"] = format_timestamp(hi)
        out.append(item)
    if now is not None:
        live = [
            x for x in out if not x.get("ending_before") or parse_timestamp(x["ending_before"], "e") > now
        ]
        out = live or out[-1:]
    return out


def subscription_wire(
    s: model.Subscription, names: Names, billing_periods: Doc, now: datetime | None = None
) -> Doc:
    out = pick(
        s,
        (
            "id",
            "collection_schedule",
            "created_at",
            "proration",
            "quantity_management_mode",
            "starting_at",
            "ending_before",
            "description",
            "name",
        ),
    )
    out["subscription_rate"] = {
        "billing_frequency": s.subscription_rate.billing_frequency,
        "product": names.product(s.subscription_rate.product_id),
    }
    out["quantity_schedule"] = quantity_schedule(s, now)
    out["billing_periods"] = billing_periods
    bcc = s.billing_cycle_config or model.BillingCycleConfig()
    out["billing_cycle_config"] = {
        "anchor_date": format_timestamp(bcc.anchor_date or s.starting_at),
        "invoice_placement": bcc.invoice_placement or model.InvoicePlacement.ON_USAGE_INVOICE,
    }
    if s.seat_config:
        out["seat_config"] = {"seat_group_key": s.seat_config.seat_group_key}
    out["custom_fields"] = names.fields("subscription", s.id)
    return out
