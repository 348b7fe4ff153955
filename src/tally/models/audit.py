"""The audit log of API mutations.

One row per successful mutating API call, inserted by `tally.audit.recorder` in the same transaction as
the change, so a rolled-back change leaves no row and a committed one always has one. Request bodies are
never stored (they can carry secrets): only the ids that name the resource.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from tally.models.base import at, key, metadata, ref, tenant_ref

audit_logs = Table(
    "audit_logs",
    metadata,
    key(),
    tenant_ref(),
    # The wire `timestamp`: the request's clock just before COMMIT.
    at("created_at"),
    # e.g. "customer.create", "contract.edit"
    Column("action", String(128), nullable=False),
    Column("resource_type", String(64), nullable=True),
    Column("resource_id", String(255), nullable=True),
    # The API token that made the call (api_tokens.id and its label). No foreign key: the log outlives tokens.
    ref("actor_id"),
    Column("actor_name", String(255), nullable=False),
    # "METHOD /concrete/path"
    Column("description", String(1024), nullable=False),
    ref("request_id"),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
)
# Listing is keyset pagination on (created_at, id) within a tenant; the resource filter has its own index.
Index("ix_audit_logs_tenant_time", audit_logs.c.tenant_id, audit_logs.c.created_at, audit_logs.c.id)
Index(
    "ix_audit_logs_resource",
    audit_logs.c.tenant_id,
    audit_logs.c.resource_type,
    audit_logs.c.resource_id,
    audit_logs.c.created_at,
)
# The console's audit page filters by actor or by action, newest first.
Index(
    "ix_audit_logs_actor",
    audit_logs.c.tenant_id,
    audit_logs.c.actor_name,
    audit_logs.c.created_at,
    audit_logs.c.id,
)
Index(
    "ix_audit_logs_action",
    audit_logs.c.tenant_id,
    audit_logs.c.action,
    audit_logs.c.created_at,
    audit_logs.c.id,
)
