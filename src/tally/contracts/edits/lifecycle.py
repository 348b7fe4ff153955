"""Changing a contract after creation (SPEC §5.14): v1 amend, v2 edit / editCommit / editCredit, end
date, archive and usage filters. Each change appends to the edit history with a snapshot.

Edits change terms in place (DRAFT invoices are recomputed from them by the invoice layer); history is
kept by the append-only `contract_edits` rows, never by rewriting the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.contracts import repository as repo
from tally.contracts import schemas as s
from tally.contracts.balances import recurring, thresholds
from tally.contracts.edits import updates
from tally.contracts.edits.schemas import EditContract
from tally.contracts.schemas_create import AmendContract
from tally.contracts.service import (
    Contract,
    build_terms,
    get,
    insert_balance,
    record_edit,
    set_term_custom_fields,
)
from tally.contracts.terms import model
from tally.contracts.terms.model import plain
from tally.contracts.terms.normalize import Doc, Terms, dump
from tally.contracts.wire import (
    Names,
    balance_wire,
    override_wire,
    pro_service_wire,
    recurring_wire,
    scheduled_wire,
    subscription_wire,
)
from tally.custom_fields import service as custom_fields
from tally.db.uow import WriteConn
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.money.context import mul
from tally.notifications import lifecycle as notifications
from tally.rating.inputs import CommitType
from tally.wire import format_timestamp, parse_timestamp

EDIT_SCOPE = "contract_edit"
_LISTS = (
    "overrides",
    "scheduled_charges",
    "discounts",
    "professional_services",
    "recurring_commits",
    "recurring_credits",
    "subscriptions",
)


def _writable(conn: Connection, tenant_id: str, customer_id: str, contract_id: str) -> Contract:
    c = get(conn, tenant_id, customer_id, contract_id, lock=True)
    if c.archived_at is not None:
        raise BadRequest(f"Contract {contract_id} is archived")
    return c


def _add_terms(
    conn: Connection,
    tenant_id: str,
    c: Contract,
    body: Doc,
    now: datetime,
    prefix: str,
    amendment_id: str | None,
    keymap: dict[str, str],
) -> dict[str, list[Doc]]:
    """Validate the added terms (request keys renamed by keymap), store them, return what was added."""
    renamed = {keymap.get(k, k): v for k, v in body.items()}
    start, end = c.parsed.starting_at, c.parsed.ending_before
    t = Terms(conn, tenant_id, start, now)
    built = build_terms(t, renamed, start, end, c.parsed.multiplier_override_prioritization, prefix)
    terms = dict(c.terms)
    for key in _LISTS:
        if built[key]:
            terms[key] = [*terms.get(key, []), *plain(built[key])]
        set_term_custom_fields(conn, tenant_id, key, renamed.get(key) or [], built[key])
    repo.update_contract(conn, tenant_id, c.id, {"terms": terms})
    if built["recurring_commits"] or built["recurring_credits"]:
        recurring.materialize(conn, tenant_id, c.customer_id, c.id, terms, now)
    for key in ("commits", "credits"):
        for raw, doc in zip(renamed.get(key) or [], built[key], strict=True):
            insert_balance(
                conn, tenant_id, c.customer_id, c.id, doc, raw.get("custom_fields"), now, amendment_id
            )
    return built


# ------------------------------------------------------------------------------------------ amend


def amend(conn: WriteConn, tenant_id: str, req: AmendContract, now: datetime, created_by: str) -> str:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    hour_aligned(req.starting_at, "starting_at")
    body = dump(req)
    amendment_id = new_id()
    built = _add_terms(conn, tenant_id, c, body, now, "", amendment_id, {})
    changes: Doc = {k: v for k, v in built.items() if v and k not in ("commits", "credits")}
    changes["starting_at"] = req.starting_at
    for key in ("netsuite_sales_order_id", "salesforce_opportunity_id", "total_contract_value"):
        if body.get(key) is not None:
            changes[key] = body[key]
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, "contract", c.id, req.custom_fields)
    record_edit(
        conn, tenant_id, c.id, "AMEND", changes, req.starting_at, now, created_by, edit_id=amendment_id
    )
    return amendment_id


# ------------------------------------------------------------------------------------------- edit

_EDIT_KEYS = {
    "add_commits": "commits",
    "add_credits": "credits",
    "add_overrides": "overrides",
    "add_scheduled_charges": "scheduled_charges",
    "add_discounts": "discounts",
    "add_professional_services": "professional_services",
    "add_recurring_commits": "recurring_commits",
    "add_recurring_credits": "recurring_credits",
    "add_subscriptions": "subscriptions",
}
_UNSUPPORTED = (
    "add_reseller_royalties",
    "add_billing_provider_configuration_update",
    "add_revenue_system_configuration_update",
    "archive_spend_trackers",
)


@dataclass
class _Edit:
    """One v2 edit in progress: the contract, the request body, and the terms and changes it builds."""

    conn: WriteConn
    tenant_id: str
    c: Contract
    body: Doc
    now: datetime
    terms: Doc = field(default_factory=dict)
    changes: Doc = field(default_factory=dict)

    def checker(self) -> Terms:
        return Terms(self.conn, self.tenant_id, self.c.parsed.starting_at, self.now)


def edit(conn: WriteConn, tenant_id: str, req: EditContract, now: datetime, created_by: str) -> str:
    """A v2 contract edit: each part of the request applied in turn, then stored with its history row."""
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    body = dump(req)
    for key in _UNSUPPORTED:
        if key in body:
            raise BadRequest(f"{key}: not supported by tally yet")
    edit_id = new_id()
    if req.uniqueness_key is not None:
        repo.reserve_key(conn, tenant_id, EDIT_SCOPE, req.uniqueness_key, edit_id, now)
    e = _Edit(conn, tenant_id, c, body, now)
    _add(e)
    e.terms = dict(e.c.terms)
    _remove_terms(e)
    _archive_balances(e)
    _update_balances(e)
    _update_scheduled_charges(e)
    _set_fields(e, req)
    t = e.checker()
    touched = updates.apply_recurring_updates(t, e.terms, body, e.changes)
    updates.apply_subscription_updates(t, e.terms, body, e.changes)
    updates.apply_threshold_updates(t, e.terms, body, e.changes)
    thresholds.check(t, e.terms, e.c.rate_card_id, thresholds.edited_keys(body))
    values: dict[str, Any] = {"terms": plain(e.terms)}
    if "update_contract_end_date" in body:
        end = req.update_contract_end_date
        _check_end(
            conn,
            tenant_id,
            e.c,
            end,
            "update_contract_end_date",
            bool(req.allow_contract_ending_before_finalized_invoice),
            "allow_contract_ending_before_finalized_invoice",
        )
        e.terms["ending_before"] = end
        values = {"terms": plain(e.terms), "ending_before": end}
        e.changes["update_contract_end_date"] = end
        touched |= updates.all_recurring_ids(e.terms)
    if not e.changes:
        raise BadRequest("Nothing to edit: the request changes no terms")
    repo.update_contract(conn, tenant_id, e.c.id, values)
    updates.sync_recurring_children(conn, tenant_id, e.c.customer_id, e.c.id, plain(e.terms), touched, now)
    if req.uniqueness_key is not None:
        e.changes["uniqueness_key"] = req.uniqueness_key
    record_edit(conn, tenant_id, e.c.id, "EDIT", e.changes, now, now, created_by, edit_id=edit_id)
    return edit_id


def _add(e: _Edit) -> None:
    """add_overrides, add_commits, ...: new terms built as a create builds them."""
    adds = {k: e.body[k] for k in _EDIT_KEYS if k in e.body}
    if not adds:
        return
    built = _add_terms(e.conn, e.tenant_id, e.c, adds, e.now, "", None, _EDIT_KEYS)
    for src, dst in _EDIT_KEYS.items():
        if built[dst]:
            e.changes[src] = built[dst]
    e.c = get(e.conn, e.tenant_id, e.c.customer_id, e.c.id)


def _remove_terms(e: _Edit) -> None:
    """remove_overrides (gone from the terms) and archive_scheduled_charges (kept, archived)."""
    for key, lst in (("archive_scheduled_charges", "scheduled_charges"), ("remove_overrides", "overrides")):
        for i, ref in enumerate(e.body.get(key) or []):
            items = e.terms.get(lst, [])
            if not any(x["id"] == ref["id"] for x in items):
                raise BadRequest(f"{key}[{i}].id: {ref['id']} is not on this contract")
            if key == "remove_overrides":
                e.terms[lst] = [x for x in items if x["id"] != ref["id"]]
            else:
                e.terms[lst] = [{**x, "archived_at": e.now} if x["id"] == ref["id"] else x for x in items]
            e.changes[key] = e.body[key]


def _archive_balances(e: _Edit) -> None:
    for key in ("archive_commits", "archive_credits"):
        for i, ref in enumerate(e.body.get(key) or []):
            b = repo.get_balance(e.conn, e.tenant_id, ref["id"])
            if b is None or b.contract_id != e.c.id:
                raise BadRequest(f"{key}[{i}].id: {ref['id']} is not on this contract")
            repo.update_balance(e.conn, e.tenant_id, b.id, {"archived_at": e.now})
            e.changes[key] = e.body[key]


def _update_balances(e: _Edit) -> None:
    for key, kind in (("update_commits", "commit"), ("update_credits", "credit")):
        for i, upd in enumerate(e.body.get(key) or []):
            bid = upd.pop(f"{kind}_id")
            b = repo.get_balance(e.conn, e.tenant_id, bid, lock=True)
            if b is None or b.contract_id != e.c.id or (b.kind == CommitType.CREDIT) != (kind == "credit"):
                raise BadRequest(f"{key}[{i}].{kind}_id: {bid} is not a {kind} on this contract")
            doc = update_balance_doc(e.checker(), b.kind, b.doc, upd, f"{key}[{i}]")
            repo.update_balance(e.conn, e.tenant_id, b.id, {"doc": plain(doc)})
            e.changes.setdefault(key, []).append({f"{kind}_id": bid, **upd})


def _update_scheduled_charges(e: _Edit) -> None:
    for i, upd in enumerate(e.body.get("update_scheduled_charges") or []):
        items = e.terms.get("scheduled_charges", [])
        found = [x for x in items if x["id"] == upd["scheduled_charge_id"]]
        if not found:
            raise BadRequest(f"update_scheduled_charges[{i}].scheduled_charge_id: not on this contract")
        new = dict(found[0])
        if upd.get("invoice_schedule"):
            new["schedule"] = plain(
                _schedule_update(
                    e.checker(),
                    found[0]["schedule"],
                    upd["invoice_schedule"],
                    f"update_scheduled_charges[{i}].invoice_schedule",
                )
            )
        if upd.get("netsuite_sales_order_id"):
            new["netsuite_sales_order_id"] = upd["netsuite_sales_order_id"]
        e.terms["scheduled_charges"] = [new if x["id"] == new["id"] else x for x in items]
        e.changes.setdefault("update_scheduled_charges", []).append(upd)


def _set_fields(e: _Edit, req: EditContract) -> None:
    """The contract's name, payment terms, threshold configurations and spend trackers."""
    if req.update_contract_name is not None:
        e.terms["name"] = req.update_contract_name
        e.changes["update_contract_name"] = req.update_contract_name
    if req.update_net_payment_terms_days is not None:
        if req.update_net_payment_terms_days < 0:
            raise BadRequest("update_net_payment_terms_days: must not be negative")
        e.terms["net_payment_terms_days"] = req.update_net_payment_terms_days
        e.changes["update_net_payment_terms_days"] = req.update_net_payment_terms_days
    for src, dst in (
        ("add_spend_threshold_configuration", "spend_threshold_configuration"),
        ("add_prepaid_balance_threshold_configuration", "prepaid_balance_threshold_configuration"),
        ("add_spend_trackers", "spend_trackers"),
    ):
        if src in e.body:
            e.terms[dst] = [*e.terms.get(dst, []), *e.body[src]] if dst == "spend_trackers" else e.body[src]
            e.changes[src] = e.body[src]


def _check_end(
    conn: Connection,
    tenant_id: str,
    c: Contract,
    end: datetime | None,
    field: str,
    allow_before_finalized: bool,
    flag: str,
) -> None:
    if end is None:
        return
    hour_aligned(end, field)
    if end <= c.parsed.starting_at:
        raise BadRequest(f"{field}: must be after the contract's starting_at")
    # Metronome: an end date earlier than the end of an existing finalized invoice is refused unless the
    # caller allows it; the finalized invoices stay as they are either way.
    last = repo.last_finalized_invoice_end(conn, tenant_id, c.id)
    if last is not None and end < last and not allow_before_finalized:
        raise BadRequest(
            f"{field}: {format_timestamp(end)} is before the end of a finalized invoice"
            f" ({format_timestamp(last)}); set {flag} to allow it"
        )


def _remove_and_update_items(
    items: list[Doc], upd: Doc, field: str, convert: Callable[[Doc], Doc] = dict
) -> list[Doc]:
    """A schedule edit's `remove_schedule_items` and `update_schedule_items` applied to `items` (an
    access or an invoice schedule's); each update's fields pass through `convert`."""
    ids = {i["id"] for i in items}
    for j, ref in enumerate(upd.get("remove_schedule_items") or []):
        if ref["id"] not in ids:
            raise BadRequest(f"{field}.remove_schedule_items[{j}].id: {ref['id']} not found")
        items = [i for i in items if i["id"] != ref["id"]]
    for j, u in enumerate(upd.get("update_schedule_items") or []):
        if u["id"] not in ids:
            raise BadRequest(f"{field}.update_schedule_items[{j}].id: {u['id']} not found")
        changed = convert({k: v for k, v in u.items() if k != "id"})
        items = [{**i, **changed} if i["id"] == u["id"] else i for i in items]
    return items


def _schedule_update(t: Terms, current: Doc, upd: Doc, field: str) -> Doc:
    items = _remove_and_update_items(list(current["schedule_items"]), upd, field)
    for j, a in enumerate(upd.get("add_schedule_items") or []):
        t._amount_or_price(a, f"{field}.add_schedule_items[{j}]")
        amount = a.get("amount")
        if amount is None:
            amount = mul(a["unit_price"], a.get("quantity", Decimal(1)))
        items.append(
            {
                "id": new_id(),
                "timestamp": a["timestamp"],
                "amount": amount,
                "unit_price": a.get("unit_price", amount),
                "quantity": a.get("quantity", Decimal(1)),
            }
        )
    return {**current, "schedule_items": items}


def update_balance_doc(t: Terms, kind: str, doc: Doc, upd: Doc, field: str) -> Doc:
    """Apply an update_commits / update_credits / editCommit / editCredit body to a stored balance."""
    new = dict(doc)
    acc = upd.pop("access_schedule", None)
    inv = upd.pop("invoice_schedule", None)
    if upd.get("product_id"):
        t.product(upd["product_id"], f"{field}.product_id", {"FIXED"})
    rf = upd.get("rollover_fraction")
    if rf is not None and not (0 <= rf <= 1):
        raise BadRequest(f"{field}.rollover_fraction: must be between 0 and 1")
    t.positive(upd.get("priority"), f"{field}.priority")
    new.update(upd)
    t.applicability(new, field)
    if acc is not None:
        items = _remove_and_update_items(
            list(doc["access_schedule"]["schedule_items"]), acc, f"{field}.access_schedule", plain
        )
        for a in acc.get("add_schedule_items") or []:
            items.append({"id": new_id(), **plain(a)})
        for j, i in enumerate(items):
            start, end = parse_timestamp(i["starting_at"], "s"), parse_timestamp(i["ending_before"], "e")
            t.range(start, end, f"{field}.access_schedule.schedule_items[{j}]")
            t.non_negative(Decimal(i["amount"]), f"{field}.access_schedule.schedule_items[{j}].amount")
        if not items:
            raise BadRequest(f"{field}.access_schedule: a balance keeps at least one segment")
        new["access_schedule"] = {**doc["access_schedule"], "schedule_items": items}
    if inv is not None:
        if kind == CommitType.CREDIT or not doc.get("invoice_schedule"):
            raise BadRequest(f"{field}.invoice_schedule: this balance has no invoice schedule")
        new["invoice_schedule"] = _schedule_update(
            t, doc["invoice_schedule"], inv, f"{field}.invoice_schedule"
        )
    if kind == CommitType.POSTPAID:
        segs = new["access_schedule"]["schedule_items"]
        inv_items = (new.get("invoice_schedule") or {}).get("schedule_items", [])
        if (
            len(segs) != 1
            or len(inv_items) != 1
            or Decimal(segs[0]["amount"]) != Decimal(inv_items[0]["amount"])
        ):
            raise BadRequest(
                f"{field}: a POSTPAID commit keeps one access and one invoice item with equal amounts"
            )
    return new


def edit_balance(
    conn: Connection, tenant_id: str, req: Any, kind: str, now: datetime, created_by: str
) -> None:
    """v2 editCommit / editCredit: contract-level or customer-level."""
    body = dump(req)
    bid = body.pop(f"{kind}_id")
    customer_id = body.pop("customer_id")
    b = repo.get_balance(conn, tenant_id, bid, lock=True)
    if b is None or b.customer_id != customer_id or (b.kind == CommitType.CREDIT) != (kind == "credit"):
        raise NotFound(f"{kind.capitalize()} {bid} not found")
    if b.archived_at is not None:
        raise BadRequest(f"{kind.capitalize()} {bid} is archived")
    if b.contract_id is not None and "applicable_contract_ids" in body:
        raise BadRequest("applicable_contract_ids: not editable on a contract-level balance")
    if b.kind == CommitType.POSTPAID and "applicable_contract_ids" in body:
        raise BadRequest("applicable_contract_ids: not editable on a POSTPAID commit")
    t = Terms(conn, tenant_id, now, now)
    if body.get("invoice_contract_id"):
        found = repo.get_contract(conn, tenant_id, body["invoice_contract_id"])
        if found is None or found.customer_id != customer_id:
            raise BadRequest(f"invoice_contract_id: contract {body['invoice_contract_id']} not found")
    new = update_balance_doc(t, b.kind, b.doc, body, kind)
    repo.update_balance(conn, tenant_id, b.id, {"doc": plain(new)})
    if b.contract_id is not None:
        record_edit(
            conn,
            tenant_id,
            b.contract_id,
            f"EDIT_{kind.upper()}",
            {f"update_{kind}s": [{f"{kind}_id": bid, **body}]},
            now,
            now,
            created_by,
        )
    else:
        notifications.balance_changed(conn, tenant_id, b.id, "edit", now)


# ---------------------------------------------------------------------------------- history wire


def history_wire(c: Contract, names: Names) -> list[Doc]:
    out = []
    by_id = {b.id: b for b in c.balances}
    for e in c.edits:
        if e.kind not in ("EDIT", "EDIT_COMMIT", "EDIT_CREDIT", "UPDATE_END_DATE"):
            continue
        ch = e.changes
        item: Doc = {"id": e.id, "timestamp": e.created_at}
        for key in ("add_commits", "add_credits"):
            if ch.get(key):
                item[key] = [_added_balance(by_id.get(d["id"]), names) for d in ch[key] if d["id"] in by_id]
        if ch.get("add_overrides"):
            item["add_overrides"] = [
                override_wire(o, names) for o in _pieces(ch, "add_overrides", model.Override)
            ]
        if ch.get("add_scheduled_charges"):
            item["add_scheduled_charges"] = [
                scheduled_wire(x, names, "scheduled_charge")
                for x in _pieces(ch, "add_scheduled_charges", model.ScheduledCharge)
            ]
        if ch.get("add_discounts"):
            item["add_discounts"] = [
                scheduled_wire(x, names, "discount")
                for x in _pieces(ch, "add_discounts", model.ScheduledCharge)
            ]
        if ch.get("add_professional_services"):
            item["add_pro_services"] = [
                pro_service_wire(x, names)
                for x in _pieces(ch, "add_professional_services", model.ProfessionalService)
            ]
        for key, credit in (("add_recurring_commits", False), ("add_recurring_credits", True)):
            if ch.get(key):
                item[key] = [
                    recurring_wire(r, names, c.id, credit) for r in _pieces(ch, key, model.Recurring)
                ]
        if ch.get("add_subscriptions"):
            # As added; later quantity changes show under update_subscriptions.
            item["add_subscriptions"] = [
                subscription_wire(x, names, {}) for x in _pieces(ch, "add_subscriptions", model.Subscription)
            ]
        for key in ("archive_commits", "archive_credits", "archive_scheduled_charges", "remove_overrides"):
            if ch.get(key):
                item[key] = [{"id": x["id"]} for x in ch[key]]
        for key in ("update_contract_end_date", "update_contract_name", "uniqueness_key"):
            if ch.get(key) is not None:
                item[key] = ch[key]
        for key, idk in (("update_commits", "commit_id"), ("update_credits", "credit_id")):
            if ch.get(key):
                item[key] = [
                    {"id": u[idk], **{k: v for k, v in u.items() if k in _UPDATE_ECHO}} for u in ch[key]
                ]
        for key, idk in _TEMPLATE_UPDATES:
            if ch.get(key):
                item[key] = [
                    {"id": u[idk], **{k: v for k, v in u.items() if k in _TEMPLATE_ECHO}} for u in ch[key]
                ]
        for key in _CONFIG_ECHO:
            if ch.get(key):
                item[key] = ch[key]
        out.append(item)
    return out


def _pieces(changes: Doc, key: str, kind: type[model.V]) -> list[model.V]:
    """The terms an edit added under `key` (its history record stores them as written)."""
    return [model.parse(x, kind) for x in changes[key]]


_TEMPLATE_UPDATES = (
    ("update_recurring_commits", "recurring_commit_id"),
    ("update_recurring_credits", "recurring_credit_id"),
    ("update_subscriptions", "subscription_id"),
)
_TEMPLATE_ECHO = (
    "access_amount",
    "ending_before",
    "invoice_amount",
    "proration_rounding",
    "rate_type",
    "name",
    "quantity_updates",
    "seat_updates",
)
_CONFIG_ECHO = (
    "add_spend_threshold_configuration",
    "add_prepaid_balance_threshold_configuration",
    "update_spend_threshold_configuration",
    "update_prepaid_balance_threshold_configuration",
)
_UPDATE_ECHO = (
    "applicable_product_ids",
    "applicable_product_tags",
    "priority",
    "rate_type",
    "rollover_fraction",
    "netsuite_sales_order_id",
)


def _added_balance(b: Any, names: Names) -> Doc:
    w = balance_wire(
        b, names, b.created_at, include_balance=False, include_ledgers=False, with_contract=False
    )
    keep = (
        "id",
        "product",
        "type",
        "access_schedule",
        "applicable_product_ids",
        "applicable_product_tags",
        "description",
        "hierarchy_configuration",
        "invoice_schedule",
        "name",
        "netsuite_sales_order_id",
        "priority",
        "rate_type",
        "rollover_fraction",
        "salesforce_opportunity_id",
        "specifiers",
    )
    return {k: w[k] for k in keep if k in w}


# ------------------------------------------------------------------------ end date, archive, filter


def update_end_date(
    conn: Connection, tenant_id: str, req: s.UpdateEndDate, now: datetime, created_by: str
) -> None:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    _check_end(
        conn,
        tenant_id,
        c,
        req.ending_before,
        "ending_before",
        bool(req.allow_ending_before_finalized_invoice),
        "allow_ending_before_finalized_invoice",
    )
    terms = dict(c.terms)
    terms.pop("ending_before", None)
    if req.ending_before is not None:
        terms["ending_before"] = req.ending_before
    repo.update_contract(conn, tenant_id, c.id, {"terms": plain(terms), "ending_before": req.ending_before})
    updates.sync_recurring_children(
        conn, tenant_id, c.customer_id, c.id, plain(terms), updates.all_recurring_ids(terms), now
    )
    record_edit(
        conn,
        tenant_id,
        c.id,
        "UPDATE_END_DATE",
        {"update_contract_end_date": req.ending_before},
        now,
        now,
        created_by,
    )


def archive(conn: Connection, tenant_id: str, req: s.ArchiveContract, now: datetime, created_by: str) -> None:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    repo.update_contract(conn, tenant_id, c.id, {"archived_at": now})
    repo.archive_balances(conn, tenant_id, c.id, now)
    record_edit(conn, tenant_id, c.id, "ARCHIVE", {"void_invoices": req.void_invoices}, now, now, created_by)


def set_usage_filter(
    conn: Connection, tenant_id: str, req: s.SetUsageFilter, now: datetime, created_by: str
) -> None:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    if not req.group_values:
        raise BadRequest("group_values: at least one value is required")
    if not req.group_key:
        raise BadRequest("group_key: required")
    terms = dict(c.terms)
    versions = [
        v for v in terms.get("usage_filter", []) if parse_timestamp(v["starting_at"], "s") < req.starting_at
    ]
    versions.append(
        plain(
            {
                "group_key": req.group_key,
                "group_values": list(req.group_values),
                "starting_at": req.starting_at,
            }
        )
    )
    terms["usage_filter"] = versions
    repo.update_contract(conn, tenant_id, c.id, {"terms": terms})
    record_edit(
        conn,
        tenant_id,
        c.id,
        "SET_USAGE_FILTER",
        {"usage_filter": versions[-1]},
        req.starting_at,
        now,
        created_by,
    )
