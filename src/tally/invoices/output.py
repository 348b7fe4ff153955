"""An invoice as a document: the HTML view and the PDF, for the API's document routes and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from tally.customers import service as customers
from tally.db import uow
from tally.invoices import documents, render, service
from tally.invoices.document import InvoiceDoc
from tally.invoices.inputs import Loader
from tally.models.invoices import InvoiceStatus

_ISSUED = {InvoiceStatus.FINALIZED, InvoiceStatus.VOID}


@dataclass(frozen=True)
class Viewed:
    doc: dict[str, Any]  # the invoice JSON, as the API returns it
    invoice: InvoiceDoc  # the same, typed
    view: dict[str, Any]  # the template context: every figure formatted (render.context)
    customer_name: str
    entry: service.Entry


def view(conn: Connection, tenant_id: str, customer_id: str, invoice_id: str, now: datetime) -> Viewed:
    """One invoice of one customer of the tenant (404 otherwise), materialized and formatted."""
    customer = customers.get(conn, tenant_id, customer_id)
    loader = Loader(conn, tenant_id)
    e = service.find(conn, loader, tenant_id, customer_id, invoice_id, now)
    doc = e.view(loader, now)
    parties = documents.parties(conn, tenant_id, doc, e.row)
    return Viewed(
        e.materialize(loader, now), doc, render.context(doc, parties, customer.name), customer.name, e
    )


def pdf(engine: Engine, tenant_id: str, customer_id: str, invoice_id: str, now: datetime) -> bytes:
    """The invoice's PDF; an issued invoice's is rendered once and kept (it never changes)."""
    with uow.read(engine) as conn:
        customer = customers.get(conn, tenant_id, customer_id)
        loader = Loader(conn, tenant_id)
        e = service.find(conn, loader, tenant_id, customer_id, invoice_id, now)
        doc = e.view(loader, now)
        if e.row is not None and e.status in _ISSUED:
            cached = documents.cached_pdf(conn, tenant_id, invoice_id, e.status)
            if cached is not None:
                return cached
        parties = documents.parties(conn, tenant_id, doc, e.row)
    ctx = render.context(doc, parties, customer.name)
    body = render.pdf(ctx)
    status = ctx["watermark"] or InvoiceStatus.FINALIZED
    if ctx["number_or_status"] != InvoiceStatus.DRAFT and status in _ISSUED:
        # An issued invoice never changes: keep its PDF (a VOID one has its own, watermarked).
        with uow.write(engine) as conn:
            documents.store_pdf(conn, tenant_id, invoice_id, status, body, now)
    return body
