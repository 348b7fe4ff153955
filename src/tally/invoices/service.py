"""Invoices (SPEC §6): which invoices a contract has, drafts computed in real time, finalization,
void and regenerate.

An invoice is identified by its key (contract, kind, period start, period end) and a generation (how
many times the key was voided). Its id is derived from both (uuid5), so a draft needs no row: it is
recomputed from current usage, terms and balances on every read, and the id a client saw on a draft is
the id of the invoice once finalized. Rows exist for invoices that left DRAFT (their snapshot is frozen)
and for regenerated drafts. The unique index on (key, void_seq) allows one live invoice per key.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.billing_providers import service as billing_providers
from tally.contracts import service as contracts
from tally.contracts.balances import ledger
from tally.contracts.terms import model, to_engine
from tally.db.uow import WriteConn
from tally.errors import BadRequest, Conflict, NotFound
from tally.invoices import documents
from tally.invoices import repository as repo
from tally.invoices.document import InvoiceDoc, parse, parse_snapshot, unknown_keys
from tally.invoices.inputs import Loader
from tally.invoices.wire import invoice_wire, list_price, snapshot_bytes
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.money.credit_types import FIAT_BY_ID
from tally.rating import inputs as ri
from tally.rating.engine import rate_scheduled_invoices, rate_usage_invoice
from tally.rating.periods import Period, billing_periods, period_containing
from tally.rating.results import Invoice, InvoiceType, LedgerEntryKind, LineType
from tally.usage import late_gate
from tally.webhooks import outbox
from tally.wire import decode_json, format_timestamp, parse_timestamp

# The invoice `type` each kind shows on the wire (and is filtered by).
_WIRE_TYPE = {InvoiceKind.PRO_SERVICES: InvoiceKind.SCHEDULED, InvoiceKind.HISTORICAL: InvoiceKind.USAGE}
Reissuer = Callable[[Connection, Row[Any], datetime], str]
# kind -> how a voided invoice of that kind is issued again; `tally.jobs.wiring.install` registers the
# request-issued kinds' (they import this module, so it cannot import them).
_REISSUERS: dict[InvoiceKind, Reissuer] = {}


def register_reissuer(kind: InvoiceKind, reissue: Reissuer) -> None:
    _REISSUERS[kind] = reissue


def reissuers() -> dict[InvoiceKind, Reissuer]:
    return dict(_REISSUERS)


_NS = uuid.UUID("3f0e0a5c-5a51-4d36-9a43-52b1d7a1c0de")
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, order=True)
class Key:
    contract_id: str
    kind: InvoiceKind
    start: datetime
    end: datetime

    @property
    def issued_at(self) -> datetime:
        return self.end


def wire_type(kind: InvoiceKind) -> InvoiceKind:
    return _WIRE_TYPE.get(kind, kind)


def invoice_id(tenant_id: str, key: Key, generation: int) -> str:
    period = f"{format_timestamp(key.start)}|{format_timestamp(key.end)}"
    name = f"{tenant_id}|{key.contract_id}|{key.kind}|{period}|{generation}"
    return str(uuid.uuid5(_NS, name))


# ------------------------------------------------------------------------------------------ settings


def grace_hours(conn: Connection, tenant_id: str) -> Decimal:
    return late_gate.grace_hours_of(repo.tenant_settings(conn, tenant_id))


def grace(conn: Connection, tenant_id: str) -> timedelta:
    return late_gate.grace_of(repo.tenant_settings(conn, tenant_id))


def set_grace(conn: WriteConn, tenant_id: str, hours: Decimal) -> None:
    if hours < 0 or hours > 24 * 90:
        raise BadRequest("grace_period_hours: must be between 0 and 2160")
    settings = repo.tenant_settings(conn, tenant_id)
    settings[late_gate.GRACE_SETTING] = hours
    repo.set_tenant_settings(conn, tenant_id, settings)


# --------------------------------------------------------------------------------------- schedules


def _schedule(contract_row: Row[Any]) -> ri.UsageStatementSchedule:
    uss = model.parse(contract_row.terms["usage_statement_schedule"], model.UsageStatementSchedule)
    return to_engine.usage_statement_schedule(uss)


def _end_of(contract_row: Row[Any]) -> datetime | None:
    """Contract end, or the archive time: nothing is billed after an archive."""
    ends = [t for t in (contract_row.ending_before, contract_row.archived_at) if t is not None]
    return min(ends) if ends else None


def usage_periods(contract_row: Row[Any], until: datetime) -> list[Period]:
    """Usage-statement periods that have started by `until` (full periods, never clipped to `until`)."""
    start, end = contract_row.starting_at, _end_of(contract_row)
    if until < start or (end is not None and end <= start):
        return []
    sched = _schedule(contract_row)
    stop = end
    if end is None or until < end:
        stop = period_containing(sched, start, end, until).ending_before
    gen_start = (contract_row.terms.get("usage_statement_schedule") or {}).get(
        "invoice_generation_starting_at"
    )
    first = parse_timestamp(gen_start, "invoice_generation_starting_at") if gen_start else None
    return [p for p in billing_periods(sched, start, stop) if first is None or p.ending_before > first]


def scheduled_times(contract: ri.Contract, contract_row: Row[Any], horizon: datetime) -> list[datetime]:
    """Dates of SCHEDULED invoices (commit purchases, scheduled charges) before `horizon`."""
    end = _end_of(contract_row)
    lo = contract.starting_at - timedelta(days=366 * 5)
    hi = horizon if end is None else min(horizon, end + timedelta(hours=1))
    if hi <= lo:
        return []
    return [inv.start_timestamp for inv in rate_scheduled_invoices(contract, Period(lo, hi))]


def horizon_of(contract_row: Row[Any], now: datetime) -> datetime:
    periods = usage_periods(contract_row, now)
    return max(now, periods[-1].ending_before) if periods else now


def expected_keys(loader: Loader, contract_row: Row[Any], now: datetime) -> list[Key]:
    """Every invoice the contract has by `now` (drafts included), archived contracts have none."""
    if contract_row.archived_at is not None:
        return []
    return _keys(loader, contract_row, now, horizon_of(contract_row, now))


def _keys(loader: Loader, contract_row: Row[Any], now: datetime, horizon: datetime) -> list[Key]:
    """The contract's usage invoices with a period begun by `now`, and its SCHEDULED invoices dated up
    to `horizon`."""
    keys = [
        Key(contract_row.id, InvoiceKind.USAGE, p.starting_at, p.ending_before)
        for p in usage_periods(contract_row, now)
    ]
    contract = loader.contract(contract_row, now)
    return keys + [
        Key(contract_row.id, InvoiceKind.SCHEDULED, t, t)
        for t in scheduled_times(contract, contract_row, horizon)
    ]


def due_at(key: Key, grace_period: timedelta) -> datetime:
    return key.end + grace_period if key.kind == InvoiceKind.USAGE else key.start


# ------------------------------------------------------------------------------------------ compute


def names_for(contract: ri.Contract) -> dict[str, str]:
    names = {ct.id: ct.name for ct in FIAT_BY_ID.values()}
    names.update({ct.id: ct.name for ct in contract.rate_card.custom_credit_types})
    return names


def compute(
    loader: Loader,
    contract_row: Row[Any],
    key: Key,
    now: datetime,
    *,
    release: dict[tuple[str, str], Decimal] | None = None,
    usage_override: list[ri.UsageRecord] | None = None,
    usage_window: Period | None = None,
) -> tuple[Invoice, ri.Contract]:
    """Rate the invoice for `key` from current data. `usage_window` limits usage to part of the period
    (breakdowns); `usage_override` replaces the stored usage (preview)."""
    if key.kind == InvoiceKind.USAGE:
        period = Period(key.start, key.end)
        contract = loader.contract(contract_row, now, period, release)
        if usage_override is not None:
            usage = usage_override
        else:
            usage = loader.usage(contract_row, contract, usage_window or period)
        return rate_usage_invoice(contract, usage, period), contract
    contract = loader.contract(contract_row, now, None, release)
    found = [
        i
        for i in rate_scheduled_invoices(contract, Period(key.start, key.start + _TICK))
        if i.start_timestamp == key.start
    ]
    if found:
        return found[0], contract
    empty = Invoice(
        InvoiceType.SCHEDULED,
        contract_row.id,
        contract_row.customer_id,
        contract.rate_card.fiat_credit_type,
        key.start,
        key.end,
        (),
        Decimal(0),
        Decimal(0),
    )
    return empty, contract


def draft_doc(
    loader: Loader,
    contract_row: Row[Any],
    key: Key,
    inv_id: str,
    now: datetime,
    status: InvoiceStatus = InvoiceStatus.DRAFT,
    regenerated_from: str | None = None,
) -> tuple[dict[str, Any], Invoice]:
    inv, contract = compute(loader, contract_row, key, now)
    doc = invoice_wire(
        inv,
        invoice_id=inv_id,
        status=status,
        names=names_for(contract),
        net_payment_terms_days=contract.net_payment_terms_days,
        regenerated_from=regenerated_from,
    )
    return doc, inv


# --------------------------------------------------------------------------------------------- views


@dataclass
class Entry:
    """One invoice of a customer, before its content is materialized."""

    id: str
    key: Key
    status: InvoiceStatus
    contract_row: Row[Any]
    row: Row[Any] | None = None
    doc: dict[str, Any] | None = field(default=None, repr=False)
    parsed: InvoiceDoc | None = field(default=None, repr=False)

    def materialize(self, loader: Loader, now: datetime) -> dict[str, Any]:
        if self.doc is None:
            if self.row is not None and self.row.snapshot is not None:
                doc = decode_json(self.row.snapshot.encode())
                doc["status"] = self.row.status
                external = billing_providers.external_invoice(
                    loader.conn, self.contract_row.tenant_id, self.id
                )
                if external is not None:
                    doc["external_invoice"] = external
                self.doc = with_number(doc, self.row)
            else:
                regen = self.row.regenerated_from_invoice_id if self.row is not None else None
                self.doc, _ = draft_doc(
                    loader, self.contract_row, self.key, self.id, now, InvoiceStatus.DRAFT, regen
                )
        return self.doc

    def view(self, loader: Loader, now: datetime) -> InvoiceDoc:
        """The materialized document as a typed read view (parsed once)."""
        if self.parsed is None:
            self.parsed = parse(self.materialize(loader, now))
        return self.parsed


def with_number(doc: dict[str, Any], row: Row[Any]) -> dict[str, Any]:
    """tally's additions to an issued invoice's JSON (docs/decisions.md): `invoice_number` and `due_date`,
    extra fields the SDK's models keep (they allow unknown fields)."""
    if row.number is not None:
        doc["invoice_number"] = row.number
        doc["due_date"] = (row.document or {}).get("due_date")
    return doc


def issued_snapshot(conn: Connection, tenant_id: str, inv_id: str) -> str | None:
    """The stored JSON document of an issued invoice (None for an unknown id or an invoice with none)."""
    row = repo.get(conn, tenant_id, inv_id)
    return row.snapshot if row is not None and row.snapshot else None


def _key_of(row: Row[Any]) -> Key:
    return Key(row.contract_id, InvoiceKind(row.kind), row.period_start, row.period_end)


def entries(
    conn: Connection,
    loader: Loader,
    tenant_id: str,
    customer_id: str,
    now: datetime,
    contract_id: str | None = None,
) -> list[Entry]:
    rows_by_key: dict[Key, list[Row[Any]]] = {}
    for r in repo.of_customer(conn, tenant_id, customer_id):
        rows_by_key.setdefault(_key_of(r), []).append(r)
    out: list[Entry] = []
    for contract_row in contracts.rows_of_customer(conn, tenant_id, customer_id):
        if contract_id is not None and contract_row.id != contract_id:
            continue
        expected = expected_keys(loader, contract_row, now)
        keys = dict.fromkeys(expected)
        keys.update(dict.fromkeys(k for k in rows_by_key if k.contract_id == contract_row.id))
        for key in keys:
            rows = rows_by_key.get(key, [])
            for r in rows:
                out.append(Entry(r.id, key, InvoiceStatus(r.status), contract_row, r))
            if not rows:
                out.append(Entry(invoice_id(tenant_id, key, 0), key, InvoiceStatus.DRAFT, contract_row))
    return out


def find(
    conn: Connection, loader: Loader, tenant_id: str, customer_id: str, inv_id: str, now: datetime
) -> Entry:
    row = repo.get(conn, tenant_id, inv_id)
    if row is not None:
        if row.customer_id != customer_id:
            raise NotFound(f"Invoice {inv_id} not found")
        contract_row = contracts.row(conn, tenant_id, row.contract_id)
        assert contract_row is not None
        return Entry(row.id, _key_of(row), InvoiceStatus(row.status), contract_row, row)
    for e in entries(conn, loader, tenant_id, customer_id, now):
        if e.id == inv_id:
            return e
    raise NotFound(f"Invoice {inv_id} not found")


def with_list_prices(loader: Loader, e: Entry, now: datetime) -> dict[str, Any]:
    """`e`'s JSON with the rate-card rate in force for each usage and subscription line."""
    rates = loader.card(e.contract_row.rate_card_id).card.rates
    names = {ct.id: ct.name for ct in FIAT_BY_ID.values()}
    doc = e.materialize(loader, now)
    lines = []
    for li, line in zip(doc["line_items"], e.view(loader, now).line_items, strict=True):
        lp = list_price(rates, line, names)
        lines.append({**li, "list_price": lp} if lp is not None else li)
    return {**doc, "line_items": lines}


def skip_zero(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "line_items": [li for li in doc["line_items"] if li.get("quantity", 1) != 0]}


# --------------------------------------------------------------------------------------- finalize


def _deductions(inv: Invoice, inv_id: str, contract_id: str) -> list[ledger.Deduction]:
    out = []
    for e in inv.ledger_entries:
        if e.amount == 0:
            continue
        if e.kind is LedgerEntryKind.TRUEUP:  # SPEC §6.6: the shortfall this invoice bills
            out.append(
                ledger.Deduction(e.commit_id, None, -e.amount, e.timestamp, inv_id, contract_id, trueup=True)
            )
        elif e.kind is LedgerEntryKind.DEDUCTION and e.segment_id is not None:
            out.append(
                ledger.Deduction(e.commit_id, e.segment_id, -e.amount, e.timestamp, inv_id, contract_id)
            )
    return out


def finalize(
    conn: WriteConn,
    loader: Loader,
    contract_row: Row[Any],
    key: Key,
    now: datetime,
    *,
    known_unsettled: bool = False,
) -> bool:
    """Finalize the live invoice of `key` exactly once; False if another worker did (or is doing) it,
    or if the key was voided and not regenerated. `known_unsettled`: the caller has just seen that the
    key has no row (so a voided key cannot be mistaken for a fresh one)."""
    tenant_id = contract_row.tenant_id
    rows = (
        []
        if known_unsettled
        else repo.rows_of_key(conn, tenant_id, key.contract_id, key.kind, key.start, key.end)
    )
    if rows and not any(r.void_seq == 0 for r in rows):
        return False  # voided: only regenerate makes a new invoice for this key
    if not rows:
        # The usual case: no row yet. Rate, then insert the row already FINALIZED; the unique key makes a
        # concurrent finalizer's insert a no-op (PostgreSQL makes it wait for ours to commit or roll back).
        first = invoice_id(tenant_id, key, 0)
        if _finalize_row(conn, loader, contract_row, key, first, None, now, insert=True):
            return True
    row = repo.live_row(conn, tenant_id, key.contract_id, key.kind, key.start, key.end, claim=True)
    if row is None or row.status != InvoiceStatus.DRAFT:
        return False  # finalized (or being finalized) by someone else
    return _finalize_row(conn, loader, contract_row, key, row.id, row.regenerated_from_invoice_id, now)


def _finalize_row(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    key: Key,
    inv_id: str,
    regen: str | None,
    now: datetime,
    *,
    insert: bool = False,
) -> bool:
    """Finalize `inv_id`: its DRAFT row, or with `insert` a new row (False if the key has one already)."""
    watermark = None
    if key.kind == InvoiceKind.USAGE:
        # Usage is read under the late-data gate: events up to the watermark are billed, later ones late.
        late_gate.hold_for_finalize(conn, contract_row.tenant_id)
        watermark = late_gate.watermark(conn, contract_row.tenant_id)
    loader.lock_balances(contract_row.customer_id)  # lock order: late-data slot, balances, invoice row
    doc, inv = draft_doc(loader, contract_row, key, inv_id, now, InvoiceStatus.FINALIZED, regen)
    text, digest = snapshot_bytes(doc)
    if insert:
        values = _row_values(contract_row.tenant_id, contract_row, key, inv_id, InvoiceStatus.FINALIZED, now)
        values |= {
            "snapshot": text,
            "content_hash": digest,
            "finalized_at": now,
            "events_watermark": watermark,
        }
        if not repo.insert_new(conn, values):
            return False
    elif not repo.finalize(conn, contract_row.tenant_id, inv_id, text, digest, now, watermark):
        return False
    left_draft(conn, contract_row.tenant_id, inv_id, doc)
    deductions = _deductions(inv, inv_id, contract_row.id)
    if deductions:
        ledger.record_deductions(conn, contract_row.tenant_id, deductions, now, loader.known)
        loader.forget(contract_row.id)
    # A renewal waited for this invoice: roll over what it left (docs/decisions.md, issue 12).
    pending = any(t.get("rollover_pending") for t in contract_row.terms.get("transitions", []))
    if (
        key.kind == InvoiceKind.USAGE
        and pending
        and contracts.complete_rollover(conn, contract_row.tenant_id, contract_row.id, key.end, now)
    ):
        loader.forget(contract_row.id)
    outbox.enqueue(  # same transaction: a rolled-back finalization notifies no one
        conn,
        contract_row.tenant_id,
        "invoice.finalized",
        {
            "invoice_id": inv_id,
            "customer_id": contract_row.customer_id,
            "contract_id": key.contract_id,
            "timestamp": format_timestamp(now),
        },
        now,
    )
    # Same transaction: a linked customer's invoice is staged for Stripe (collection/ sends it).
    billing_providers.enqueue_finalized(
        conn,
        contract_row.tenant_id,
        contract_row.customer_id,
        contract_row.terms.get("billing_provider_configuration"),
        inv_id,
        now,
    )
    return True


def left_draft(conn: Connection, tenant_id: str, inv_id: str, doc: dict[str, Any]) -> None:
    """The one hook for an invoice leaving DRAFT (finalized, voided as a draft, or issued FINALIZED by a
    request): it gets its sequential number and frozen parties when the transaction commits."""
    unknown = unknown_keys(doc)  # every document that is stored is one its readers can read
    if unknown:
        raise RuntimeError(f"invoice {inv_id} has keys its read view lacks: {', '.join(unknown)}")
    view = parse(doc)
    documents.number_on_commit(
        conn,
        documents.Issued(tenant_id, inv_id, view.customer_id, view.issued_at, documents.terms_of(view), doc),
    )


def _row_values(
    tenant_id: str,
    contract_row: Row[Any],
    key: Key,
    inv_id: str,
    status: InvoiceStatus,
    now: datetime,
    regenerated_from: str | None = None,
) -> dict[str, Any]:
    return {
        "id": inv_id,
        "tenant_id": tenant_id,
        "customer_id": contract_row.customer_id,
        "contract_id": key.contract_id,
        "kind": key.kind,
        "status": status,
        "period_start": key.start,
        "period_end": key.end,
        "void_seq": 0,
        "regenerated_from_invoice_id": regenerated_from,
        "created_at": now,
    }


def due_keys(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    now: datetime,
    grace_period: timedelta,
    settled: set[tuple[str, datetime, datetime]] | None = None,
) -> tuple[list[Key], datetime | None]:
    """Keys that are due and not yet settled, and when the next one falls due. `settled`: the contract's
    (kind, start, end) with a row, if the caller has read them."""
    if contract_row.archived_at is not None:
        return [], None
    if settled is None:
        settled = settled_keys(conn, contract_row.tenant_id, [contract_row.id]).get(contract_row.id, set())
    keys = _keys(loader, contract_row, now, now + timedelta(days=400))
    # SCHEDULED first (issued at their date). One that draws balances (subscription charges) makes the
    # finalizer forget the contract, so the next key is rated against the new balances.
    due = sorted(
        (k for k in keys if due_at(k, grace_period) <= now and (k.kind, k.start, k.end) not in settled),
        key=lambda k: (k.kind != InvoiceKind.SCHEDULED, k.start),
    )
    upcoming = [due_at(k, grace_period) for k in keys if due_at(k, grace_period) > now]
    return due, (min(upcoming) if upcoming else None)


def settled_keys(
    conn: Connection, tenant_id: str, contract_ids: list[str]
) -> dict[str, set[tuple[str, datetime, datetime]]]:
    """Per contract, the (kind, start, end) of every invoice row it has (any status)."""
    out: dict[str, set[tuple[str, datetime, datetime]]] = {}
    for r in repo.of_contracts(conn, tenant_id, contract_ids):
        out.setdefault(r.contract_id, set()).add((r.kind, r.period_start, r.period_end))
    return out


# ----------------------------------------------------------------------------------- void, regenerate


def _locate(conn: Connection, loader: Loader, tenant_id: str, inv_id: str, now: datetime) -> Entry:
    row = repo.get(conn, tenant_id, inv_id, lock=True)
    if row is not None:
        contract_row = contracts.row(conn, tenant_id, row.contract_id)
        assert contract_row is not None
        return Entry(row.id, _key_of(row), InvoiceStatus(row.status), contract_row, row)
    # A draft has no row yet: find the key its id was derived from. Usage keys come from the contract row
    # alone, so they are all tried before any contract is loaded for its scheduled invoice dates.
    contract_rows = [c for c in contracts.active_rows_of_tenant(conn, tenant_id) if c.archived_at is None]
    usage_keys = (
        (c, Key(c.id, InvoiceKind.USAGE, p.starting_at, p.ending_before))
        for c in contract_rows
        for p in usage_periods(c, now)
    )

    def scheduled_keys() -> Iterator[tuple[Row[Any], Key]]:
        # Commit invoice schedules live on balances: read every customer's at once, not per contract.
        loader.prefetch(contract_rows)
        for c in contract_rows:
            for t in scheduled_times(loader.contract(c, now), c, horizon_of(c, now)):
                yield c, Key(c.id, InvoiceKind.SCHEDULED, t, t)

    for contract_row, key in itertools.chain(usage_keys, scheduled_keys()):
        if invoice_id(tenant_id, key, 0) == inv_id and not repo.rows_of_key(
            conn, tenant_id, key.contract_id, key.kind, key.start, key.end
        ):
            return Entry(inv_id, key, InvoiceStatus.DRAFT, contract_row)
    raise NotFound(f"Invoice {inv_id} not found")


def void(conn: WriteConn, tenant_id: str, inv_id: str, now: datetime) -> str:
    loader = Loader(conn, tenant_id)
    e = _locate(conn, loader, tenant_id, inv_id, now)
    if e.status == InvoiceStatus.VOID:
        return inv_id  # voiding twice is a no-op
    seq = repo.max_void_seq(conn, tenant_id, e.key.contract_id, e.key.kind, e.key.start, e.key.end) + 1
    if e.row is None:
        repo.insert_new(conn, _row_values(tenant_id, e.contract_row, e.key, inv_id, InvoiceStatus.DRAFT, now))
    snapshot = digest = None
    if e.status == InvoiceStatus.DRAFT:
        # Keep what the draft showed when it was voided (it never drew from balances).
        regen = e.row.regenerated_from_invoice_id if e.row is not None else None
        doc, _ = draft_doc(loader, e.contract_row, e.key, inv_id, now, InvoiceStatus.VOID, regen)
        snapshot, digest = snapshot_bytes(doc)
    if not repo.void(conn, tenant_id, inv_id, seq, now, snapshot, digest):
        raise Conflict(f"Invoice {inv_id} changed while it was being voided; retry")
    if e.status == InvoiceStatus.DRAFT:
        left_draft(conn, tenant_id, inv_id, doc)
    billing_providers.request_void(conn, tenant_id, inv_id, now)  # its Stripe invoice, if any
    if e.status == InvoiceStatus.FINALIZED and e.row is not None and e.row.snapshot:
        commit_ids = [
            li.commit_id
            for li in parse_snapshot(e.row.snapshot).line_items
            if li.commit_id and li.type is LineType.APPLIED
        ]
        ledger.release_invoice(conn, tenant_id, inv_id, commit_ids, now)
    return inv_id


def regenerate(conn: WriteConn, tenant_id: str, inv_id: str, now: datetime) -> str:
    row = repo.get(conn, tenant_id, inv_id, lock=True)
    if row is None:
        # A draft that never left DRAFT has no row; it exists (not voided) or it does not exist at all.
        loader = Loader(conn, tenant_id)
        _locate(conn, loader, tenant_id, inv_id, now)
        raise BadRequest(f"Invoice {inv_id} is not voided; only voided invoices can be regenerated")
    if row.status != InvoiceStatus.VOID:
        raise BadRequest(f"Invoice {inv_id} is {row.status}; only voided invoices can be regenerated")
    reissue = _REISSUERS.get(InvoiceKind(row.kind))
    if reissue is not None:
        return reissue(conn, row, now)
    key = _key_of(row)
    rows = repo.rows_of_key(conn, tenant_id, key.contract_id, key.kind, key.start, key.end)
    live = [r for r in rows if r.void_seq == 0]
    if live:
        raise Conflict(f"Invoice {inv_id} was already regenerated as {live[0].id}")
    contract_row = contracts.row(conn, tenant_id, row.contract_id)
    assert contract_row is not None
    new_id = invoice_id(tenant_id, key, len(rows))
    repo.insert(
        conn,
        _row_values(tenant_id, contract_row, key, new_id, InvoiceStatus.DRAFT, now, regenerated_from=inv_id),
    )
    if due_at(key, grace(conn, tenant_id)) <= now:
        _finalize_row(conn, Loader(conn, tenant_id), contract_row, key, new_id, inv_id, now)
    return new_id
