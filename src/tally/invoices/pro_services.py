"""Professional-services invoices (SPEC §5.17): `scheduleProServicesInvoice` bills a contract's
`professional_services` terms on request.

Each line bills one professional service: its `amount`, or `quantity` x `unit_price` (the term's unit
price unless the line overrides it), rounded once to the contract currency's precision. The invoice is
issued FINALIZED when the request is made: its content comes entirely from the request, so there is
nothing a draft could recompute. It shows as a `SCHEDULED` invoice whose period is the instant
`issued_at`. The sum of the lines billed for a service over all its invoices that are not voided never
exceeds the service's `max_amount`; the contract row is locked while checking, so concurrent requests
cannot both pass. Issuing it sends `invoice.finalized`, as the worker does for the invoices it finalizes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field
from sqlalchemy import Connection, Row

from tally.contracts import service as contracts
from tally.contracts.terms.model import ProfessionalService
from tally.custom_fields import service as custom_fields
from tally.customers import service as customers
from tally.errors import BadRequest, Conflict
from tally.ids import new_id
from tally.invoices import repository as repo
from tally.invoices import service
from tally.invoices.document import parse_snapshot
from tally.invoices.inputs import Loader
from tally.invoices.wire import PRODUCT_TYPE, num, snapshot_bytes
from tally.kit.api import Id, NonNegNum, Req, Str, Ts
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.money.context import ZERO, add, mul
from tally.money.credit_types import CreditType
from tally.rating.inputs import ProductType, RatingOptions
from tally.webhooks import outbox
from tally.wire import format_timestamp

LINE_TYPE = "scheduled"


class ProServiceLine(Req):
    professional_service_id: Id
    amendment_id: Id | None = None
    amount: NonNegNum | None = None
    metadata: Str | None = None
    netsuite_invoice_billing_end: Ts | None = None
    netsuite_invoice_billing_start: Ts | None = None
    quantity: NonNegNum | None = None
    unit_price: NonNegNum | None = None


class ScheduleProServicesInvoice(Req):
    contract_id: Id
    customer_id: Id
    issued_at: Ts
    line_items: list[ProServiceLine] = Field(min_length=1, max_length=100)
    netsuite_invoice_header_end: Ts | None = None
    netsuite_invoice_header_start: Ts | None = None


def _ordered(start: datetime | None, end: datetime | None, field: str) -> None:
    if start is not None and end is not None and end <= start:
        raise BadRequest(f"{field}_end: must be after {field}_start")


def _amendment_check(contract: contracts.Contract, line: ProServiceLine, field: str) -> None:
    if line.amendment_id is None:
        return
    found = [e for e in contract.edits if e.id == line.amendment_id and e.kind == "AMEND"]
    if not found:
        raise BadRequest(f"{field}.amendment_id: no amendment {line.amendment_id} on this contract")
    added = {p.get("id") for p in found[0].changes.get("professional_services") or []}
    if line.professional_service_id not in added:
        raise BadRequest(
            f"{field}.amendment_id: professional service {line.professional_service_id} "
            f"was not added by amendment {line.amendment_id}"
        )


def _price(
    line: ProServiceLine, term: ProfessionalService, field: str
) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """(exact total, quantity, unit price) of a line; quantity and unit price are None for an amount."""
    if line.amount is not None:
        if line.quantity is not None or line.unit_price is not None:
            raise BadRequest(
                f"{field}: give either amount, or quantity (and optionally unit_price), not both"
            )
        return line.amount, None, None
    if line.quantity is None:
        what = (
            "unit_price needs quantity" if line.unit_price is not None else "amount or quantity is required"
        )
        raise BadRequest(f"{field}: {what}")
    unit_price = line.unit_price if line.unit_price is not None else term.unit_price
    return mul(unit_price, line.quantity), line.quantity, unit_price


def _billed(conn: Connection, tenant_id: str, contract_id: str) -> dict[str, Decimal]:
    """What the contract's pro-services invoices that are not voided billed, per professional service."""
    out: dict[str, Decimal] = {}
    for row in repo.of_kind(conn, tenant_id, contract_id, InvoiceKind.PRO_SERVICES):
        if row.status == InvoiceStatus.VOID or not row.snapshot:
            continue
        for li in parse_snapshot(row.snapshot).line_items:
            ps = li.professional_service_id
            if ps:
                out[ps] = add(out.get(ps, ZERO), li.total)
    return out


def _product_name(loader: Loader, product_id: str, at: datetime) -> str:
    name = product_id
    for start, view in loader.versions(product_id) or []:
        if start <= at:  # the first version starts at the beginning of time
            name = view.name
    return name


def _issue(
    conn: Connection,
    tenant_id: str,
    req: ScheduleProServicesInvoice,
    now: datetime,
    regenerated_from: str | None = None,
) -> dict[str, Any]:
    customers.get(conn, tenant_id, req.customer_id)
    # The lock serializes issuance per contract, so two requests cannot both fit under max_amount.
    contract = contracts.get(conn, tenant_id, req.customer_id, req.contract_id, lock=True)
    contract_row = contracts.row(conn, tenant_id, req.contract_id)
    assert contract_row is not None
    if contract_row.archived_at is not None:
        raise BadRequest(f"contract_id: contract {req.contract_id} is archived")
    _ordered(req.netsuite_invoice_header_start, req.netsuite_invoice_header_end, "netsuite_invoice_header")
    terms = {p.id: p for p in contract.parsed.professional_services}
    loader = Loader(conn, tenant_id)
    engine_contract = loader.contract(contract_row, now)
    currency: CreditType = engine_contract.rate_card.fiat_credit_type
    names = service.names_for(engine_contract)
    mode = RatingOptions().line_rounding
    billed = _billed(conn, tenant_id, contract_row.id)
    ps_fields = custom_fields.values_for(conn, tenant_id, "professional_service", list(terms))
    lines: list[dict[str, Any]] = []
    total = ZERO
    for i, line in enumerate(req.line_items):
        field = f"line_items[{i}]"
        term = terms.get(line.professional_service_id)
        if term is None:
            raise BadRequest(
                f"{field}.professional_service_id: no professional service "
                f"{line.professional_service_id} on contract {contract_row.id}"
            )
        _amendment_check(contract, line, field)
        _ordered(
            line.netsuite_invoice_billing_start,
            line.netsuite_invoice_billing_end,
            f"{field}.netsuite_invoice_billing",
        )
        exact, quantity, unit_price = _price(line, term, field)
        amount = currency.round(exact, mode)
        ps_id = line.professional_service_id
        billed[ps_id] = add(billed.get(ps_id, ZERO), amount)
        cap = term.max_amount
        if billed[ps_id] > cap:
            raise BadRequest(
                f"{field}: professional service {ps_id} would be billed {num(billed[ps_id])} in all, "
                f"more than its max_amount {num(cap)}"
            )
        total = add(total, amount)
        out: dict[str, Any] = {
            "credit_type": {"id": currency.id, "name": names.get(currency.id, currency.name)},
            "name": _product_name(loader, term.product_id, req.issued_at),
            "total": num(amount),
            "type": LINE_TYPE,
            "product_id": term.product_id,
            "product_type": PRODUCT_TYPE[ProductType.PRO_SERVICE],
            "professional_service_id": ps_id,
        }
        if quantity is not None and unit_price is not None:
            out["quantity"] = num(quantity)
            out["unit_price"] = num(unit_price)
        if line.metadata is not None:
            out["metadata"] = line.metadata
        if line.netsuite_invoice_billing_start is not None:
            out["netsuite_invoice_billing_start"] = format_timestamp(line.netsuite_invoice_billing_start)
        if line.netsuite_invoice_billing_end is not None:
            out["netsuite_invoice_billing_end"] = format_timestamp(line.netsuite_invoice_billing_end)
        if ps_fields.get(ps_id):
            out["professional_service_custom_fields"] = ps_fields[ps_id]
        lines.append(out)
    inv_id = new_id()
    at = format_timestamp(req.issued_at)
    doc: dict[str, Any] = {
        "id": inv_id,
        "customer_id": contract_row.customer_id,
        "contract_id": contract_row.id,
        "type": service.wire_type(InvoiceKind.PRO_SERVICES),
        "status": InvoiceStatus.FINALIZED,
        "credit_type": {"id": currency.id, "name": names.get(currency.id, currency.name)},
        "start_timestamp": at,
        "end_timestamp": at,
        "issued_at": at,
        "subtotal": num(total),
        "total": num(total),
        "line_items": lines,
        "invoice_adjustments": [],
    }
    if engine_contract.net_payment_terms_days is not None:
        doc["net_payment_terms_days"] = Decimal(engine_contract.net_payment_terms_days)
    if regenerated_from is not None:
        doc["regenerated_from_invoice_id"] = regenerated_from
    text, digest = snapshot_bytes(doc)
    repo.insert(
        conn,
        {
            "id": inv_id,
            "tenant_id": tenant_id,
            "customer_id": contract_row.customer_id,
            "contract_id": contract_row.id,
            "kind": InvoiceKind.PRO_SERVICES,
            "status": InvoiceStatus.FINALIZED,
            "period_start": req.issued_at,
            "period_end": req.issued_at,
            "void_seq": 0,
            "issue_ref": inv_id,
            "inputs": req.model_dump(mode="json", exclude_none=True),
            "regenerated_from_invoice_id": regenerated_from,
            "created_at": now,
            "finalized_at": now,
            "snapshot": text,
            "content_hash": digest,
        },
    )
    service.left_draft(conn, tenant_id, inv_id, doc)
    outbox.enqueue(
        conn,
        tenant_id,
        "invoice.finalized",
        {
            "invoice_id": inv_id,
            "customer_id": contract_row.customer_id,
            "contract_id": contract_row.id,
            "timestamp": format_timestamp(now),
        },
        now,
    )
    return doc


def issue(conn: Connection, tenant_id: str, req: ScheduleProServicesInvoice, now: datetime) -> dict[str, Any]:
    return _issue(conn, tenant_id, req, now)


def reissue(conn: Connection, row: Row[Any], now: datetime) -> str:
    """Regenerate a voided pro-services invoice: the same request, priced again against the current
    terms (and max_amount, which no longer counts the voided invoice)."""
    done = repo.regenerated_from(conn, row.tenant_id, row.id)
    if done is not None:
        raise Conflict(f"Invoice {row.id} was already regenerated as {done.id}")
    req = ScheduleProServicesInvoice.model_validate(row.inputs)
    doc = _issue(conn, row.tenant_id, req, now, regenerated_from=row.id)
    return str(doc["id"])
