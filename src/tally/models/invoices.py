"""Invoices, billing progress per contract, and the persisted test clock.

An invoice is identified by (tenant, contract, kind, period start, period end, void_seq). Live invoices
have void_seq 0, so the unique index allows one live invoice per key while keeping every voided one.
DRAFT content is recomputed on every read; FINALIZED and VOID rows hold an immutable JSON snapshot and
its SHA-256 (a trigger refuses to change either once the row has left DRAFT).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from tally.models.base import at, doc, key, metadata, ref, tenant_ref


class InvoiceKind(StrEnum):
    """`invoices.kind`: computed by tally (USAGE, SCHEDULED) or issued by a request, FINALIZED from the
    start (PRO_SERVICES, HISTORICAL: invoices.pro_services, invoices.historical)."""

    USAGE = "USAGE"
    SCHEDULED = "SCHEDULED"
    PRO_SERVICES = "PRO_SERVICES"
    HISTORICAL = "HISTORICAL"


class InvoiceStatus(StrEnum):
    """`invoices.status`, tally's own lifecycle (not a billing provider's external status)."""

    DRAFT = "DRAFT"
    FINALIZED = "FINALIZED"
    VOID = "VOID"


invoices = Table(
    "invoices",
    metadata,
    key(),
    tenant_ref(),
    ref("customer_id"),
    ref("contract_id"),
    # InvoiceKind
    Column("kind", String(16), nullable=False),
    # InvoiceStatus
    Column("status", String(16), nullable=False),
    at("period_start"),
    at("period_end"),
    # 0 while live; a voided invoice takes the next number for its key, so keys stay unique.
    Column("void_seq", Integer, nullable=False),
    # Tells apart invoices issued by requests that share a period (a PRO_SERVICES invoice's own id);
    # '' for every other invoice, so the key stays one live invoice per period for them.
    Column("issue_ref", String(36), nullable=False, server_default=""),
    # What a request-issued invoice was computed from (HISTORICAL usage, PRO_SERVICES request), for
    # breakdowns and regenerate; immutable once issued, like the snapshot.
    doc("inputs", nullable=True),
    ref("regenerated_from_invoice_id", nullable=True),
    at("created_at"),
    at("finalized_at", nullable=True),
    at("voided_at", nullable=True),
    # The invoice's JSON (tally's exact codec) and its SHA-256, set when it leaves DRAFT.
    Column("snapshot", Text, nullable=True),
    Column("content_hash", String(64), nullable=True),
    # USAGE invoices: the event-log position their usage was read up to when they were finalized;
    # events of the period above it are late (usage.late_gate).
    Column("events_watermark", BigInteger, nullable=True),
    # Issue 15 (models.documents, invoices.numbering): the sequential number (`<prefix>-<000001>`) and the
    # frozen issuer, bill-to and due date, set once in the transaction that takes the invoice out of DRAFT.
    Column("number", String(64), nullable=True),
    doc("document", nullable=True),
)
Index(
    "uq_invoices_key",
    invoices.c.tenant_id,
    invoices.c.contract_id,
    invoices.c.kind,
    invoices.c.period_start,
    invoices.c.period_end,
    invoices.c.issue_ref,
    invoices.c.void_seq,
    unique=True,
)
Index("uq_invoices_number", invoices.c.tenant_id, invoices.c.number, unique=True)
Index("ix_invoices_customer", invoices.c.tenant_id, invoices.c.customer_id, invoices.c.period_start)

# What the worker still owes each contract: the next time something falls due (a usage period closing
# after grace, or a scheduled invoice date). Rows are claimed with SKIP LOCKED on PostgreSQL.
billing_state = Table(
    "billing_state",
    metadata,
    key("contract_id"),
    tenant_ref(),
    at("next_due_at", nullable=True),
    # contract_edits.seq the schedule was computed from; a newer edit makes the worker recompute it.
    Column("synced_seq", Integer, nullable=False),
    at("updated_at"),
)
Index("ix_billing_state_due", billing_state.c.next_due_at)

# `tally serve --test-clock`: one row holding the server time, shared by every process.
test_clock = Table(
    "test_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    at("now"),
)
