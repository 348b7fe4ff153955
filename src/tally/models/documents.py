"""Invoice documents (issue 15): who issues the invoice, who it is billed to, its sequential number and
the rendered PDFs of issued invoices.

- `invoice_number_counters`: one row per tenant holding the last number handed out. A finalizer bumps it
  just before its transaction commits (`invoices.numbering`), so a rolled-back finalization gives its
  number back and numbers stay gapless; the row lock makes concurrent finalizers take turns.
- `invoices.number` / `invoices.document` (added to the invoices table by migration 0013): the number and
  the frozen issuer, bill-to and due date, set once when the invoice leaves DRAFT.
- `customer_billing_details`: a customer's bill-to (legal name, address, tax id, billing email).
- `invoice_logos`: issuer logos by content hash, so an issued invoice keeps the logo it was issued with.
- `invoice_pdfs`: the PDF of an issued invoice, rendered once (an issued invoice never changes).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, PrimaryKeyConstraint, String, Table

from tally.models.base import at, doc, metadata, ref, tenant_ref

invoice_number_counters = Table(
    "invoice_number_counters",
    metadata,
    tenant_ref(primary_key=True),
    Column("last_number", BigInteger, nullable=False),
)

customer_billing_details = Table(
    "customer_billing_details",
    metadata,
    tenant_ref(),
    ref("customer_id", "customers"),
    doc("details"),
    at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "customer_id"),
)

invoice_logos = Table(
    "invoice_logos",
    metadata,
    tenant_ref(),
    Column("sha256", String(64), nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "sha256"),
)

invoice_pdfs = Table(
    "invoice_pdfs",
    metadata,
    tenant_ref(),
    ref("invoice_id"),
    # FINALIZED or VOID: a voided invoice's PDF carries the VOID watermark, so each status has its own.
    Column("status", String(16), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    at("created_at"),
    PrimaryKeyConstraint("tenant_id", "invoice_id", "status"),
)
