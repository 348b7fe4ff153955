"""Billing providers: the tenant's Stripe connection, Metronome's billing-provider settings and
customer billing configurations, and the Stripe sync outbox (one row per tally invoice to collect).

The Stripe secret key is stored encrypted (AES-GCM) under a key derived from the server key and a
per-row salt, as webhook signing secrets are derived (webhooks/keys.py): a database dump alone holds
no usable Stripe key.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from tally.db.types import ExactDecimal
from tally.models.base import at, doc, key, metadata, ref, tenant_index, tenant_ref

stripe_connections = Table(
    "stripe_connections",
    metadata,
    tenant_ref(primary_key=True),
    Column("salt", String(64), nullable=False),
    # base64(nonce || AES-GCM ciphertext) of the secret key and of Stripe's webhook signing secret.
    Column("secret_key_sealed", Text, nullable=False),
    Column("webhook_secret_sealed", Text, nullable=True),
    Column("account_id", String(255), nullable=True),
    Column("api_base", String(2048), nullable=True),
    at("created_at"),
    at("updated_at"),
)

# v1.settings.billing_providers: delivery methods configured for the tenant.
billing_provider_settings = Table(
    "billing_provider_settings",
    metadata,
    key(),  # the delivery_method_id
    tenant_ref(),
    Column("billing_provider", String(32), nullable=False),
    Column("delivery_method", String(32), nullable=False),
    doc("configuration"),
    at("created_at"),
)
tenant_index(billing_provider_settings)

customer_billing_configurations = Table(
    "customer_billing_configurations",
    metadata,
    key(),
    tenant_ref(),
    ref("customer_id", "customers"),
    Column("billing_provider", String(32), nullable=False),
    Column("delivery_method", String(32), nullable=False),
    ref("delivery_method_id"),
    doc("configuration"),
    Column("tax_provider", String(16), nullable=True),
    at("created_at"),
    at("archived_at", nullable=True),
)
Index(
    "ix_customer_billing_configurations_customer",
    customer_billing_configurations.c.tenant_id,
    customer_billing_configurations.c.customer_id,
)

# The Stripe sync outbox: written in the transaction that finalizes (or voids) the invoice, worked by
# the worker after commit. One row per invoice (the primary key), so the invoice is sent at most once.
stripe_invoice_syncs = Table(
    "stripe_invoice_syncs",
    metadata,
    key("invoice_id"),
    tenant_ref(),
    ref("customer_id"),
    ref("configuration_id"),
    # pending (work to do) | done | error (Stripe refused it: waits for the operator's retry)
    Column("state", String(16), nullable=False),
    Column("void_requested", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    # Bumped by each operator retry: the idempotency keys of a retried sync are new ones.
    Column("generation", Integer, nullable=False),
    # When the next attempt may start; while an attempt is in flight, the end of its lease.
    at("next_attempt_at", nullable=True),
    ref("lease", nullable=True),
    Column("stripe_invoice_id", String(255), nullable=True),
    # Metronome's external_status: QUEUED, FINALIZED, SENT, PAID, PAYMENT_FAILED, VOID, SKIPPED, ...
    Column("external_status", String(32), nullable=False),
    Column("external_payment_id", String(255), nullable=True),
    Column("invoiced_total", ExactDecimal, nullable=True),
    at("issued_at", nullable=True),
    Column("pdf_url", String(2048), nullable=True),
    Column("error", Text, nullable=True),
    # When the worker next reads the Stripe invoice to catch a missed webhook.
    at("reconcile_at", nullable=True),
    at("created_at"),
    at("updated_at"),
)
Index("ix_stripe_invoice_syncs_due", stripe_invoice_syncs.c.state, stripe_invoice_syncs.c.next_attempt_at)
Index("ix_stripe_invoice_syncs_reconcile", stripe_invoice_syncs.c.reconcile_at)
Index(
    "ix_stripe_invoice_syncs_stripe_id",
    stripe_invoice_syncs.c.tenant_id,
    stripe_invoice_syncs.c.stripe_invoice_id,
)

# Stripe event ids already applied (a redelivered event changes nothing twice).
stripe_webhook_events = Table(
    "stripe_webhook_events",
    metadata,
    tenant_ref(primary_key=True),
    Column("event_id", String(255), primary_key=True),
    at("received_at"),
)
