"""Historical invoices (SPEC §5.9): `createHistoricalInvoices` imports usage invoices billed before tally
took over a contract.

The caller gives quantities per product (one `quantity` for the line's window, or `subtotals_with_quantity`
per HOUR/DAY window); tally rates them with the contract's rates, overrides and balances exactly as it
rates its own usage invoices (tiers cumulative over the invoice, commits and credits drawn down), and
issues the invoice FINALIZED with an immutable snapshot, recording its balance deductions. Quantities
are billed as given (they are invoice quantities, so product quantity conversion and rounding do not
apply), only the listed USAGE products are billed (composites on the rate card are computed from them),
and subscriptions, scheduled charges and discounts are left out: they were billed with the originals.

A historical invoice may not overlap a usage-statement period tally invoices itself (draft or finalized,
see `usage_statement_schedule.invoice_generation_starting_at`), a live usage invoice of the contract, or
another live historical invoice: 409. `preview` runs everything in a savepoint that is rolled back, so
the invoices it returns (and the balances each one sees) are exactly what the real call would issue.
No `invoice.finalized` is sent: an imported invoice was already billed elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Connection, Row

from tally.contracts import service as contracts
from tally.contracts.balances import ledger
from tally.customers import service as customers
from tally.errors import BadRequest, Conflict
from tally.ids import new_id
from tally.invoices import repository as repo
from tally.invoices import service
from tally.invoices.inputs import Loader
from tally.invoices.wire import invoice_wire, snapshot_bytes
from tally.kit.api import Id, NonNegNum, Req, Str, Ts, hour_aligned
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.rating import inputs as ri
from tally.rating.engine import rate_usage_invoice
from tally.rating.periods import Period
from tally.rating.results import Invoice
from tally.wire import format_timestamp

_TICK = timedelta(microseconds=1)
_SLOT = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}


class SubtotalWithQuantity(Req):
    exclusive_end_date: Ts
    inclusive_start_date: Ts
    quantity: NonNegNum


class HistoricalUsageLine(Req):
    exclusive_end_date: Ts
    inclusive_start_date: Ts
    product_id: Id
    presentation_group_values: dict[Str, Str] | None = None
    pricing_group_values: dict[Str, Str] | None = None
    quantity: NonNegNum | None = None
    subtotals_with_quantity: list[SubtotalWithQuantity] | None = Field(default=None, max_length=10_000)


class HistoricalInvoice(Req):
    contract_id: Id
    credit_type_id: Id
    customer_id: Id
    exclusive_end_date: Ts
    inclusive_start_date: Ts
    issue_date: Ts
    usage_line_items: list[HistoricalUsageLine] = Field(max_length=1000)
    billable_status: Literal["billable", "unbillable"] | None = None
    breakdown_granularity: Literal["HOUR", "DAY"] | None = None
    custom_fields: dict[Str, Str] | None = None


class CreateHistoricalInvoices(Req):
    invoices: list[HistoricalInvoice] = Field(min_length=1, max_length=100)
    preview: bool


# ------------------------------------------------------------------------------------------- inputs


def _group_values(line: HistoricalUsageLine) -> ri.GroupValues:
    values = dict(line.pricing_group_values or {})
    values.update(line.presentation_group_values or {})
    return tuple(sorted(values.items()))


def usage_records(inv: HistoricalInvoice) -> list[ri.UsageRecord]:
    """The usage the invoice bills: each quantity stamped at the start of its window."""
    out = []
    for line in inv.usage_line_items:
        gv = _group_values(line)
        if line.quantity is not None:
            out.append(ri.UsageRecord(line.product_id, line.inclusive_start_date, line.quantity, gv))
        for sub in line.subtotals_with_quantity or []:
            out.append(ri.UsageRecord(line.product_id, sub.inclusive_start_date, sub.quantity, gv))
    return out


def historical_contract(contract: ri.Contract) -> ri.Contract:
    """The contract as a historical invoice rates it: usage and balances only, quantities as given."""
    products = {
        pid: replace(p, quantity_conversion=None, quantity_rounding=None)
        if p.type is ri.ProductType.USAGE
        else p
        for pid, p in contract.products.items()
    }
    return replace(
        contract,
        products=products,
        subscriptions=(),
        scheduled_charges=(),
        discounts=(),
        scheduled_charges_on_usage_invoices=False,
    )


def rating_inputs(
    loader: Loader,
    contract_row: Row[Any],
    row: Row[Any],
    now: datetime,
    release: dict[tuple[str, str], Decimal] | None = None,
) -> tuple[ri.Contract, list[ri.UsageRecord]]:
    """What a stored historical invoice is rated from today (breakdowns): `release` gives back what the
    invoice itself drew from balances."""
    inv = HistoricalInvoice.model_validate(row.inputs)
    period = Period(row.period_start, row.period_end)
    return historical_contract(loader.contract(contract_row, now, period, release)), usage_records(inv)


# --------------------------------------------------------------------------------------- validation


def _window(start: datetime, end: datetime, field: str) -> None:
    hour_aligned(start, f"{field}.inclusive_start_date")
    hour_aligned(end, f"{field}.exclusive_end_date")
    if end <= start:
        raise BadRequest(f"{field}.exclusive_end_date: must be after inclusive_start_date")


def _inside(start: datetime, end: datetime, lo: datetime, hi: datetime, field: str, of: str) -> None:
    if start < lo or end > hi:
        raise BadRequest(
            f"{field}: [{format_timestamp(start)}, {format_timestamp(end)}) is outside {of} "
            f"[{format_timestamp(lo)}, {format_timestamp(hi)})"
        )


def _slot_start(t: datetime, granularity: str) -> datetime:
    t = t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if granularity == "DAY" else t


def _check_line(
    loader: Loader, contract_row: Row[Any], inv: HistoricalInvoice, line: HistoricalUsageLine, field: str
) -> None:
    if line.product_id not in loader.card(contract_row.rate_card_id).product_ids:
        raise BadRequest(f"{field}.product_id: product {line.product_id} is not on the contract's rate card")
    view = None
    for start, v in loader.versions(line.product_id) or []:
        if start <= inv.inclusive_start_date:
            view = v
    if view is None or view.type != "USAGE":
        raise BadRequest(f"{field}.product_id: product {line.product_id} is not a USAGE product")
    for name, keys in (
        ("pricing_group_values", view.pricing_group_key),
        ("presentation_group_values", view.presentation_group_key),
    ):
        extra = sorted(set(getattr(line, name) or {}) - set(keys or []))
        if extra:
            raise BadRequest(f"{field}.{name}: {', '.join(extra)} is not a {name[:-7]} key of the product")
    both = set(line.pricing_group_values or {}) & set(line.presentation_group_values or {})
    for k in sorted(both):
        if (line.pricing_group_values or {})[k] != (line.presentation_group_values or {})[k]:
            raise BadRequest(f"{field}.presentation_group_values.{k}: differs from pricing_group_values.{k}")
    _window(line.inclusive_start_date, line.exclusive_end_date, field)
    _inside(
        line.inclusive_start_date,
        line.exclusive_end_date,
        inv.inclusive_start_date,
        inv.exclusive_end_date,
        field,
        "the invoice period",
    )
    subs = line.subtotals_with_quantity
    if (line.quantity is None) == (subs is None):
        raise BadRequest(f"{field}: give exactly one of quantity and subtotals_with_quantity")
    prev_end: datetime | None = None
    for n, sub in sorted(enumerate(subs or []), key=lambda ns: ns[1].inclusive_start_date):
        sf = f"{field}.subtotals_with_quantity[{n}]"
        _window(sub.inclusive_start_date, sub.exclusive_end_date, sf)
        _inside(
            sub.inclusive_start_date,
            sub.exclusive_end_date,
            line.inclusive_start_date,
            line.exclusive_end_date,
            sf,
            "the line's window",
        )
        if prev_end is not None and sub.inclusive_start_date < prev_end:
            raise BadRequest(f"{sf}: overlaps another subtotal window")
        prev_end = sub.exclusive_end_date
        g = inv.breakdown_granularity
        if g is not None and _slot_start(sub.inclusive_start_date, g) != _slot_start(
            sub.exclusive_end_date - _TICK, g
        ):
            raise BadRequest(f"{sf}: must lie within one {g} window (breakdown_granularity)")


def _check(loader: Loader, contract_row: Row[Any], inv: HistoricalInvoice, field: str) -> None:
    if contract_row.archived_at is not None:
        raise BadRequest(f"{field}.contract_id: contract {contract_row.id} is archived")
    start, end = inv.inclusive_start_date, inv.exclusive_end_date
    _window(start, end, field)
    contract_end = contract_row.ending_before or datetime.max.replace(tzinfo=start.tzinfo)
    _inside(start, end, contract_row.starting_at, contract_end, field, "the contract")
    currency = loader.card(contract_row.rate_card_id).card.fiat_credit_type
    if inv.credit_type_id != currency.id:
        raise BadRequest(
            f"{field}.credit_type_id: must be the contract's currency {currency.id} ({currency.name})"
        )
    for j, line in enumerate(inv.usage_line_items):
        _check_line(loader, contract_row, inv, line, f"{field}.usage_line_items[{j}]")


def _overlaps(a: datetime, b: datetime, c: datetime, d: datetime) -> bool:
    return a < d and c < b


def _check_collisions(
    conn: Connection, contract_row: Row[Any], start: datetime, end: datetime, field: str
) -> None:
    span = f"[{format_timestamp(start)}, {format_timestamp(end)})"
    for p in service.usage_periods(contract_row, end - _TICK):
        if _overlaps(start, end, p.starting_at, p.ending_before):
            raise Conflict(
                f"{field}: {span} overlaps the usage period [{format_timestamp(p.starting_at)}, "
                f"{format_timestamp(p.ending_before)}) that tally invoices itself; import only periods "
                "before usage_statement_schedule.invoice_generation_starting_at"
            )
    for r in repo.of_contracts(conn, contract_row.tenant_id, [contract_row.id]):
        if (
            r.kind in (InvoiceKind.USAGE, InvoiceKind.HISTORICAL)
            and r.status != InvoiceStatus.VOID
            and _overlaps(start, end, r.period_start, r.period_end)
        ):
            what = "historical" if r.kind == InvoiceKind.HISTORICAL else "usage"
            raise Conflict(
                f"{field}: {span} overlaps the {what} invoice of [{format_timestamp(r.period_start)}, "
                f"{format_timestamp(r.period_end)}) on contract {contract_row.id}"
            )


# ------------------------------------------------------------------------------------------- issue


def _issue(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    inv: HistoricalInvoice,
    now: datetime,
    field: str,
    regenerated_from: str | None = None,
) -> dict[str, Any]:
    period = Period(inv.inclusive_start_date, inv.exclusive_end_date)
    contract = historical_contract(loader.contract(contract_row, now, period))
    try:
        rated: Invoice = rate_usage_invoice(contract, usage_records(inv), period)
    except ri.RatingInputError as exc:
        raise BadRequest(f"{field}: {exc}") from None
    inv_id = new_id()
    doc = invoice_wire(
        rated,
        invoice_id=inv_id,
        status=InvoiceStatus.FINALIZED,
        names=service.names_for(contract),
        net_payment_terms_days=contract.net_payment_terms_days,
        regenerated_from=regenerated_from,
    )
    doc["type"] = service.wire_type(InvoiceKind.HISTORICAL)
    doc["issued_at"] = format_timestamp(inv.issue_date)
    if inv.billable_status is not None:
        doc["billable_status"] = inv.billable_status
    if inv.custom_fields:
        doc["custom_fields"] = dict(inv.custom_fields)
    text, digest = snapshot_bytes(doc)
    repo.insert(
        conn,
        {
            "id": inv_id,
            "tenant_id": contract_row.tenant_id,
            "customer_id": contract_row.customer_id,
            "contract_id": contract_row.id,
            "kind": InvoiceKind.HISTORICAL,
            "status": InvoiceStatus.FINALIZED,
            "period_start": period.starting_at,
            "period_end": period.ending_before,
            "void_seq": 0,
            "issue_ref": "",
            "inputs": inv.model_dump(mode="json", exclude_none=True),
            "regenerated_from_invoice_id": regenerated_from,
            "created_at": now,
            "finalized_at": now,
            "snapshot": text,
            "content_hash": digest,
        },
    )
    service.left_draft(conn, contract_row.tenant_id, inv_id, doc)
    deductions = service._deductions(rated, inv_id, contract_row.id)
    if deductions:
        ledger.record_deductions(conn, contract_row.tenant_id, deductions, now)
    loader.forget(contract_row.id)  # the next invoice of the request sees this one's draw-down
    return doc


def _create_all(
    conn: Connection, tenant_id: str, req: CreateHistoricalInvoices, now: datetime
) -> list[dict[str, Any]]:
    loader = Loader(conn, tenant_id)
    seen: dict[str, list[tuple[datetime, datetime, int]]] = {}
    docs = []
    for i, inv in enumerate(req.invoices):
        field = f"invoices[{i}]"
        customers.get(conn, tenant_id, inv.customer_id)
        # Locked: two imports for one contract cannot both pass the overlap check.
        contracts.get(conn, tenant_id, inv.customer_id, inv.contract_id, lock=True)
        contract_row = contracts.row(conn, tenant_id, inv.contract_id)
        assert contract_row is not None
        _check(loader, contract_row, inv, field)
        start, end = inv.inclusive_start_date, inv.exclusive_end_date
        for s, e, j in seen.get(contract_row.id, []):
            if _overlaps(start, end, s, e):
                raise BadRequest(f"{field}: overlaps invoices[{j}] of the same contract")
        seen.setdefault(contract_row.id, []).append((start, end, i))
        _check_collisions(conn, contract_row, start, end, field)
        docs.append(_issue(conn, loader, contract_row, inv, now, field))
    return docs


def create(
    conn: Connection, tenant_id: str, req: CreateHistoricalInvoices, now: datetime
) -> list[dict[str, Any]]:
    if not req.preview:
        return _create_all(conn, tenant_id, req, now)
    savepoint = conn.begin_nested()
    try:
        return _create_all(conn, tenant_id, req, now)
    finally:
        savepoint.rollback()


def reissue(conn: Connection, row: Row[Any], now: datetime) -> str:
    """Regenerate a voided historical invoice: the same quantities, rated with today's rates and
    balances, under the same overlap rules."""
    done = repo.regenerated_from(conn, row.tenant_id, row.id)
    if done is not None:
        raise Conflict(f"Invoice {row.id} was already regenerated as {done.id}")
    inv = HistoricalInvoice.model_validate(row.inputs)
    contracts.get(conn, row.tenant_id, row.customer_id, row.contract_id, lock=True)
    contract_row = contracts.row(conn, row.tenant_id, row.contract_id)
    assert contract_row is not None
    loader = Loader(conn, row.tenant_id)
    field = f"invoice {row.id}"
    _check(loader, contract_row, inv, field)
    _check_collisions(conn, contract_row, inv.inclusive_start_date, inv.exclusive_end_date, field)
    return str(_issue(conn, loader, contract_row, inv, now, field, regenerated_from=row.id)["id"])
