"""Contracts (SPEC §5): create and read.

A contract's state is its row (indexed columns + the `terms` document) plus its commit and credit rows in
`balances`. Every change appends a row to `contract_edits` carrying a snapshot of the whole state, which
is how `as_of_date` reads and the edit history are answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from msgspec.structs import replace
from sqlalchemy import Connection, Row

from tally.billing_providers import service as billing_providers
from tally.contracts import repository as repo
from tally.contracts.balances import recurring, rollover, thresholds
from tally.contracts.balances.rollover import roll_over_contract
from tally.contracts.schemas_create import CreateContract
from tally.contracts.terms import model
from tally.contracts.terms.model import plain
from tally.contracts.terms.normalize import Doc, Terms, dump
from tally.custom_fields import service as custom_fields
from tally.customers import service as customers
from tally.db.uow import WriteConn
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.models.contracts import contracts as contracts_table
from tally.notifications import lifecycle as notifications
from tally.rate_cards import service as rate_cards
from tally.rating.inputs import AnchorDay, CommitType, Frequency, UsageStatementSchedule
from tally.rating.periods import schedule_anchor

ENTITY = "contract"
UNIQUENESS_SCOPE = "contract"
BALANCE_ENTITY = {
    CommitType.PREPAID: "commit",
    CommitType.POSTPAID: "commit",
    CommitType.CREDIT: "contract_credit",
}
# Lists of terms whose items may carry custom fields, and the custom-field entity of each.
TERM_ENTITIES = {
    "scheduled_charges": "scheduled_charge",
    "discounts": "discount",
    "subscriptions": "subscription",
    "professional_services": "professional_service",
}
# Request fields kept as given (metadata, integrations, thresholds), echoed back on reads.
PASSTHROUGH = (
    "name",
    "net_payment_terms_days",
    "scheduled_charges_on_usage_invoices",
    "spend_threshold_configuration",
    "prepaid_balance_threshold_configuration",
    "spend_trackers",
    "hierarchy_configuration",
    "billing_provider_configuration",
    "reseller_royalties",
    "revenue_system_configuration",
    "salesforce_opportunity_id",
    "netsuite_sales_order_id",
    "total_contract_value",
)

custom_fields.register_entity_table(ENTITY, contracts_table)


@dataclass(frozen=True)
class Balance:
    id: str
    kind: CommitType
    customer_id: str
    contract_id: str | None
    amendment_id: str | None
    created_at: datetime
    archived_at: datetime | None
    doc: Doc

    @cached_property
    def parsed(self) -> model.Balance:
        """The stored document as a typed value, parsed on first use."""
        return model.parse(self.doc, model.Balance)

    @classmethod
    def of(cls, row: Row[Any]) -> Balance:
        return cls(
            row.id,
            CommitType(row.kind),
            row.customer_id,
            row.contract_id,
            row.amendment_id,
            row.created_at,
            row.archived_at,
            row.doc,
        )


@dataclass(frozen=True)
class Edit:
    id: str
    seq: int
    kind: str
    effective_at: datetime
    created_at: datetime
    created_by: str
    changes: Doc


@dataclass(frozen=True)
class Contract:
    id: str
    customer_id: str
    rate_card_id: str | None
    starting_at: datetime
    ending_before: datetime | None
    archived_at: datetime | None
    created_at: datetime
    created_by: str
    uniqueness_key: str | None
    terms: Doc
    initial_terms: Doc
    balances: list[Balance] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)

    @cached_property
    def parsed(self) -> model.Terms:
        """The stored terms as a typed value, parsed on first use."""
        return model.parse(self.terms, model.Terms)

    @cached_property
    def initial_parsed(self) -> model.Terms:
        return model.parse(self.initial_terms, model.Terms)


def _contract(row: Row[Any], balances: list[Balance], edits: list[Edit]) -> Contract:
    return Contract(
        id=row.id,
        customer_id=row.customer_id,
        rate_card_id=row.rate_card_id,
        starting_at=row.starting_at,
        ending_before=row.ending_before,
        archived_at=row.archived_at,
        created_at=row.created_at,
        created_by=row.created_by,
        uniqueness_key=row.uniqueness_key,
        terms=row.terms,
        initial_terms=row.initial_terms,
        balances=balances,
        edits=edits,
    )


# ------------------------------------------------------------------------------------------ reads


def row(conn: Connection, tenant_id: str, contract_id: str) -> Row[Any] | None:
    """The stored contract row (terms document and indexed columns), for other domains' engines."""
    return repo.get_contract(conn, tenant_id, contract_id)


def rows(conn: Connection, tenant_id: str, contract_ids: list[str]) -> dict[str, Row[Any]]:
    """Stored contract rows by id (unknown ids are absent), in one query."""
    return {r.id: r for r in repo.get_contracts(conn, tenant_id, contract_ids)}


def rows_of_customer(conn: Connection, tenant_id: str, customer_id: str) -> list[Row[Any]]:
    return repo.contracts_of(conn, tenant_id, customer_id)


def active_rows_of_tenant(conn: Connection, tenant_id: str) -> list[Row[Any]]:
    return repo.active_contracts_of_tenant(conn, tenant_id)


def load_many(conn: Connection, tenant_id: str, rows: list[Row[Any]]) -> list[Contract]:
    ids = [r.id for r in rows]
    by_contract: dict[str, list[Balance]] = {i: [] for i in ids}
    for b in repo.balances_of_contracts(conn, tenant_id, ids):
        by_contract[b.contract_id].append(Balance.of(b))
    edits: dict[str, list[Edit]] = {i: [] for i in ids}
    for e in repo.edits_of(conn, tenant_id, ids):
        edits[e.contract_id].append(
            Edit(e.id, e.seq, e.kind, e.effective_at, e.created_at, e.created_by, e.changes)
        )
    return [_contract(r, by_contract[r.id], edits[r.id]) for r in rows]


def get(
    conn: Connection, tenant_id: str, customer_id: str, contract_id: str, *, lock: bool = False
) -> Contract:
    row = repo.get_contract(conn, tenant_id, contract_id, lock=lock)
    if row is None or row.customer_id != customer_id:
        raise NotFound(f"Contract {contract_id} not found")
    return load_many(conn, tenant_id, [row])[0]


def get_as_of(conn: Connection, tenant_id: str, customer_id: str, contract_id: str, at: datetime) -> Contract:
    """The contract as it stood at `at`, rebuilt from the edit snapshot in force then."""
    current = get(conn, tenant_id, customer_id, contract_id)
    snap = repo.snapshot_at(conn, tenant_id, contract_id, at)
    if snap is None:
        raise NotFound(f"Contract {contract_id} did not exist at {at.isoformat()}")
    state = model.parse(snap.snapshot, model.Snapshot)
    terms = model.parse(state.terms, model.Terms)
    balances = [
        Balance(
            b.id,
            b.kind,
            current.customer_id,
            contract_id,
            b.amendment_id,
            b.created_at,
            b.archived_at,
            b.doc,
        )
        for b in state.balances
    ]
    return Contract(
        id=current.id,
        customer_id=current.customer_id,
        rate_card_id=terms.rate_card_id,
        starting_at=terms.starting_at,
        ending_before=terms.ending_before,
        archived_at=state.archived_at,
        created_at=current.created_at,
        created_by=current.created_by,
        uniqueness_key=current.uniqueness_key,
        terms=state.terms,
        initial_terms=current.initial_terms,
        balances=balances,
        edits=[e for e in current.edits if e.seq <= snap.seq],
    )


def page(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    after: str | None,
    limit: int,
    *,
    include_archived: bool,
    covering: datetime | None,
    starting_at: datetime | None,
) -> list[Contract]:
    customers.get(conn, tenant_id, customer_id)
    if covering is not None and starting_at is not None:
        raise BadRequest("covering_date and starting_at cannot be combined")
    rows = repo.contracts_of(
        conn,
        tenant_id,
        customer_id,
        after=after,
        limit=limit,
        include_archived=include_archived,
        covering=covering,
        starting_at=starting_at,
    )
    return load_many(conn, tenant_id, rows)


def snapshot(conn: Connection, tenant_id: str, contract_id: str) -> Doc:
    row = repo.get_contract(conn, tenant_id, contract_id)
    assert row is not None
    bals = repo.balances_of_contracts(conn, tenant_id, [contract_id])
    out: Doc = plain(
        {
            "terms": row.terms,
            "archived_at": row.archived_at,
            "balances": [
                {
                    "id": b.id,
                    "kind": b.kind,
                    "amendment_id": b.amendment_id,
                    "created_at": b.created_at,
                    "archived_at": b.archived_at,
                    "doc": b.doc,
                }
                for b in bals
            ],
        }
    )
    return out


def record_edit(
    conn: Connection,
    tenant_id: str,
    contract_id: str,
    kind: str,
    changes: Doc,
    effective_at: datetime,
    now: datetime,
    created_by: str,
    *,
    edit_id: str | None = None,
) -> str:
    edit_id = edit_id or new_id()
    repo.insert_edit(
        conn,
        {
            "id": edit_id,
            "tenant_id": tenant_id,
            "contract_id": contract_id,
            "seq": repo.next_seq(conn, tenant_id, contract_id),
            "kind": kind,
            "effective_at": effective_at,
            "created_at": now,
            "created_by": created_by,
            "changes": plain(changes),
            "snapshot": snapshot(conn, tenant_id, contract_id),
        },
    )
    # Lifecycle webhooks (contract.*, commit.*, credit.*) and the contract's time-based schedule.
    notifications.contract_changed(conn, tenant_id, contract_id, kind, now)
    return edit_id


# ----------------------------------------------------------------------------------------- create


def insert_balance(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contract_id: str | None,
    doc: Doc,
    custom: dict[str, str] | None,
    now: datetime,
    amendment_id: str | None = None,
) -> None:
    repo.insert_balance(conn, tenant_id, customer_id, contract_id, plain(doc), now, amendment_id)
    if custom:
        custom_fields.set_values(conn, tenant_id, BALANCE_ENTITY[doc["type"]], doc["id"], custom)
    if contract_id is None:  # a contract-level one is announced by the contract edit that adds it
        notifications.balance_changed(conn, tenant_id, doc["id"], "create", now)


def set_term_custom_fields(
    conn: Connection, tenant_id: str, key: str, raw: list[Doc], docs: list[Doc]
) -> None:
    entity = TERM_ENTITIES.get(key)
    if entity is None:
        return
    for r, d in zip(raw, docs, strict=True):
        if r.get("custom_fields"):
            custom_fields.set_values(conn, tenant_id, entity, d["id"], r["custom_fields"])


def build_terms(
    t: Terms, body: Doc, start: datetime, end: datetime | None, prioritization: str, prefix: str = ""
) -> dict[str, list[Doc]]:
    """Validate and normalize every list of terms in a create/amend body (commits before overrides, so
    overrides can name commits by temporary_id)."""
    out: dict[str, list[Doc]] = {}
    out["commits"] = [
        t.balance(c, c["type"], f"{prefix}commits[{i}]") for i, c in enumerate(body.get("commits") or [])
    ]
    out["credits"] = [
        t.balance(c, CommitType.CREDIT, f"{prefix}credits[{i}]")
        for i, c in enumerate(body.get("credits") or [])
    ]
    out["recurring_commits"] = [
        t.recurring(r, f"{prefix}recurring_commits[{i}]", credit=False)
        for i, r in enumerate(body.get("recurring_commits") or [])
    ]
    out["recurring_credits"] = [
        t.recurring(r, f"{prefix}recurring_credits[{i}]", credit=True)
        for i, r in enumerate(body.get("recurring_credits") or [])
    ]
    out["subscriptions"] = [
        t.subscription(s, f"{prefix}subscriptions[{i}]", start, end)
        for i, s in enumerate(body.get("subscriptions") or [])
    ]
    out["scheduled_charges"] = [
        t.scheduled(s, f"{prefix}scheduled_charges[{i}]")
        for i, s in enumerate(body.get("scheduled_charges") or [])
    ]
    out["discounts"] = [
        t.scheduled(s, f"{prefix}discounts[{i}]") for i, s in enumerate(body.get("discounts") or [])
    ]
    out["professional_services"] = [
        t.professional_service(p, f"{prefix}professional_services[{i}]")
        for i, p in enumerate(body.get("professional_services") or [])
    ]
    out["overrides"] = [
        t.override(o, f"{prefix}overrides[{i}]", prioritization)
        for i, o in enumerate(body.get("overrides") or [])
    ]
    return out


def _usage_statement_schedule(body: Doc, start: datetime) -> Doc:
    uss = dict(body.get("usage_statement_schedule") or {"frequency": "MONTHLY"})
    uss.setdefault("day", "FIRST_OF_MONTH")
    if uss["day"] == "CUSTOM_DATE" and uss.get("billing_anchor_date") is None:
        raise BadRequest("usage_statement_schedule.billing_anchor_date: required when day is CUSTOM_DATE")
    if uss["day"] != "CUSTOM_DATE" and uss.get("billing_anchor_date") is not None:
        raise BadRequest("usage_statement_schedule.billing_anchor_date: only allowed when day is CUSTOM_DATE")
    sched = UsageStatementSchedule(
        Frequency(uss["frequency"]), AnchorDay(uss["day"]), uss.get("billing_anchor_date")
    )
    uss["billing_anchor_date"] = schedule_anchor(sched, start)
    return uss


def _rate_card(conn: Connection, tenant_id: str, req: CreateContract) -> str | None:
    if req.rate_card_id is not None and req.rate_card_alias is not None:
        raise BadRequest("rate_card_id and rate_card_alias cannot both be given")
    if req.rate_card_alias is not None:
        return rate_cards.resolve_alias(conn, tenant_id, req.rate_card_alias, req.starting_at)
    if req.rate_card_id is not None:
        try:
            card = rate_cards.get(conn, tenant_id, req.rate_card_id)
        except NotFound:
            raise BadRequest(f"rate_card_id: rate card {req.rate_card_id} not found") from None
        if card.archived_at is not None:
            raise BadRequest(f"rate_card_id: rate card {req.rate_card_id} is archived")
        return card.id
    return None


def create(conn: WriteConn, tenant_id: str, req: CreateContract, now: datetime, created_by: str) -> str:
    customer = customers.get(conn, tenant_id, req.customer_id)
    if customer.archived_at is not None:
        raise BadRequest(f"customer_id: customer {req.customer_id} is archived")
    hour_aligned(req.starting_at, "starting_at")
    if req.ending_before is not None:
        hour_aligned(req.ending_before, "ending_before")
        if req.ending_before <= req.starting_at:
            raise BadRequest("ending_before: must be after starting_at")
    if req.net_payment_terms_days is not None and req.net_payment_terms_days < 0:
        raise BadRequest("net_payment_terms_days: must not be negative")
    rate_card_id = _rate_card(conn, tenant_id, req)
    body = dump(req)
    billing_providers.check_contract_configuration(
        conn, tenant_id, req.customer_id, body.get("billing_provider_configuration")
    )
    prioritization = req.multiplier_override_prioritization or "LOWEST_MULTIPLIER"
    t = Terms(conn, tenant_id, req.starting_at, now)
    built = build_terms(t, body, req.starting_at, req.ending_before, prioritization)
    contract_id = new_id()
    if req.uniqueness_key is not None:
        repo.reserve_key(conn, tenant_id, UNIQUENESS_SCOPE, req.uniqueness_key, contract_id, now)
    terms: Doc = {"id": contract_id, "customer_id": req.customer_id, "starting_at": req.starting_at}
    if req.ending_before is not None:
        terms["ending_before"] = req.ending_before
    if rate_card_id is not None:
        terms["rate_card_id"] = rate_card_id
    terms["usage_statement_schedule"] = _usage_statement_schedule(body, req.starting_at)
    terms["multiplier_override_prioritization"] = prioritization
    if req.package_id is not None:
        terms["package_id"] = req.package_id  # resolved by contracts.packages.contract_body
    for key in PASSTHROUGH:
        if key in body:
            terms[key] = body[key]
    thresholds.check(
        t,
        _typed(body, thresholds.SPEND, model.SpendThresholdConfiguration),
        _typed(body, thresholds.PREPAID, model.PrepaidBalanceThresholdConfiguration),
        (model.parse(x, model.SpendTracker) for x in body.get("spend_trackers") or []),
        rate_card_id,
    )
    for key in (
        "overrides",
        "scheduled_charges",
        "discounts",
        "subscriptions",
        "professional_services",
        "recurring_commits",
        "recurring_credits",
    ):
        terms[key] = built[key]
    terms["usage_filter"] = []
    if req.usage_filter is not None:
        uf = dict(body["usage_filter"])
        uf.setdefault("starting_at", req.starting_at)
        if not uf["group_values"]:
            raise BadRequest("usage_filter.group_values: at least one value is required")
        terms["usage_filter"] = [uf]
    terms["transitions"] = []
    if req.transition is not None:
        terms["transitions"] = [_transition(conn, tenant_id, req, contract_id, now, created_by)]
    repo.insert_contract(
        conn,
        {
            "id": contract_id,
            "tenant_id": tenant_id,
            "customer_id": req.customer_id,
            "rate_card_id": rate_card_id,
            "starting_at": req.starting_at,
            "ending_before": req.ending_before,
            "created_at": now,
            "created_by": created_by,
            "uniqueness_key": req.uniqueness_key,
            "terms": plain(terms),
            "initial_terms": plain(terms),
            "package_id": terms.get("package_id"),
        },
    )
    for raw_key, docs in (("commits", built["commits"]), ("credits", built["credits"])):
        for raw, doc in zip(body.get(raw_key) or [], docs, strict=True):
            insert_balance(conn, tenant_id, req.customer_id, contract_id, doc, raw.get("custom_fields"), now)
    if req.transition is not None and req.transition.type == "RENEWAL":
        _renewal_rollover(conn, tenant_id, req, contract_id, now)
    recurring.materialize(conn, tenant_id, req.customer_id, contract_id, terms, now)
    for key in TERM_ENTITIES:
        set_term_custom_fields(conn, tenant_id, key, body.get(key) or [], built[key])
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, ENTITY, contract_id, req.custom_fields)
    record_edit(conn, tenant_id, contract_id, "CREATE", {"terms": terms}, req.starting_at, now, created_by)
    return contract_id


def _typed(body: Doc, key: str, kind: type[model.V]) -> model.V | None:
    """The request's piece `key` as its typed value (None when absent)."""
    return model.parse(body[key], kind) if key in body else None


def _renewal_rollover(
    conn: Connection, tenant_id: str, req: CreateContract, contract_id: str, now: datetime
) -> None:
    """Roll over now if the old contract's final usage invoice is finalized, else mark the transition
    pending: finalizing that invoice rolls over (`complete_rollover`, issue 12)."""
    assert req.transition is not None
    old = repo.get_contract(conn, tenant_id, req.transition.from_contract_id)
    assert old is not None
    final_end = rollover.final_usage_end(old, req.starting_at)
    if final_end is None or rollover.final_invoice_finalized(conn, tenant_id, old, final_end):
        _roll(conn, tenant_id, old.id, contract_id, req.customer_id, req.starting_at, req.ending_before, now)
        return
    marker = model.RolloverPending(
        at=req.starting_at, ending_before=req.ending_before, final_usage_end=final_end
    )
    transitions = [
        replace(t, rollover_pending=marker)
        if t.to_contract_id == contract_id and t.type is model.TransitionType.RENEWAL
        else t
        for t in model.parse(old.terms, model.Terms).transitions
    ]
    terms = {**old.terms, "transitions": [model.dump(t) for t in transitions]}
    repo.update_contract(conn, tenant_id, old.id, {"terms": plain(terms)})


def _roll(
    conn: Connection,
    tenant_id: str,
    old_id: str,
    new_id_: str,
    customer_id: str,
    at: datetime,
    new_end: datetime | None,
    now: datetime,
) -> None:
    for doc in roll_over_contract(conn, tenant_id, old_id, new_id_, customer_id, at, new_end, now):
        insert_balance(conn, tenant_id, customer_id, new_id_, doc, None, now)


def complete_rollover(
    conn: Connection, tenant_id: str, contract_id: str, usage_end: datetime, now: datetime
) -> bool:
    """Called in the transaction that finalizes a USAGE invoice of `contract_id` ending at `usage_end`:
    run the renewal rollovers that waited for it. True if one ran."""
    old = repo.get_contract(conn, tenant_id, contract_id, lock=True)
    if old is None:
        return False
    ran = False
    transitions = []
    for t in model.parse(old.terms, model.Terms).transitions:
        marker = t.rollover_pending
        if marker is not None and t.from_contract_id == contract_id and marker.final_usage_end == usage_end:
            _roll(
                conn,
                tenant_id,
                contract_id,
                t.to_contract_id,
                old.customer_id,
                marker.at,
                marker.ending_before,
                now,
            )
            t = replace(t, rollover_pending=None, rollover_done_at=now)
            ran = True
        transitions.append(model.dump(t))
    if ran:
        repo.update_contract(
            conn, tenant_id, contract_id, {"terms": plain({**old.terms, "transitions": transitions})}
        )
    return ran


def _transition(
    conn: Connection, tenant_id: str, req: CreateContract, contract_id: str, now: datetime, created_by: str
) -> Doc:
    assert req.transition is not None
    old = repo.get_contract(conn, tenant_id, req.transition.from_contract_id, lock=True)
    if old is None or old.customer_id != req.customer_id:
        raise BadRequest(f"transition.from_contract_id: contract {req.transition.from_contract_id} not found")
    if old.archived_at is not None:
        raise BadRequest(f"transition.from_contract_id: contract {old.id} is archived")
    entry = {"from_contract_id": old.id, "to_contract_id": contract_id, "type": req.transition.type}
    terms = dict(old.terms)
    terms["transitions"] = [*terms.get("transitions", []), entry]
    repo.update_contract(conn, tenant_id, old.id, {"terms": plain(terms)})
    record_edit(conn, tenant_id, old.id, "TRANSITION", {"transition": entry}, now, now, created_by)
    fib = req.transition.future_invoice_behavior
    if fib is not None and fib.trueup is not None:
        entry = {**entry, "future_invoice_behavior": {"trueup": fib.trueup}}
        if fib.trueup == "REMOVE":
            # The renewal carries the commitment on: the old contract's postpaid commits bill no true-up on
            # invoices not yet finalized (finalized ones never change).
            for bal in repo.balances_of_contracts(conn, tenant_id, [old.id]):
                if bal.kind == CommitType.POSTPAID:
                    repo.update_balance(
                        conn, tenant_id, bal.id, {"doc": plain({**bal.doc, "disable_trueup": True})}
                    )
    return entry
