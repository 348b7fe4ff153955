"""Packages (SPEC §5, Metronome `v1.packages.*`): a contract template whose dates are offsets from the
contract's start. A contract created from one copies the resolved terms; the package is never read again
for that contract, so changing or archiving a package never rewrites existing contracts."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from tally.db.types import JsonDoc, UtcDateTime
from tally.models.base import metadata

packages = Table(
    "packages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(255), nullable=False),
    # The package as created (offsets, not dates), ids assigned to every term.
    Column("doc", JsonDoc, nullable=False),
    # [{name, starting_at?, ending_before?}]; the most recently created package wins a shared alias.
    Column("aliases", JsonDoc, nullable=False),
    Column("uniqueness_key", String(255), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
)
Index("ix_packages_tenant", packages.c.tenant_id, packages.c.id)
