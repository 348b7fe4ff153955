"""Packages (SPEC §5, Metronome `v1.packages.*`): a contract template whose dates are offsets from the
contract's start. A contract created from one copies the resolved terms; the package is never read again
for that contract, so changing or archiving a package never rewrites existing contracts."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from tally.models.base import at, doc, key, metadata, tenant_index, tenant_ref

packages = Table(
    "packages",
    metadata,
    key(),
    tenant_ref(),
    Column("name", String(255), nullable=False),
    # The package as created (offsets, not dates), ids assigned to every term.
    doc("doc"),
    # [{name, starting_at?, ending_before?}]; the most recently created package wins a shared alias.
    doc("aliases"),
    Column("uniqueness_key", String(255), nullable=True),
    at("created_at"),
    Column("created_by", String(255), nullable=False),
    at("archived_at", nullable=True),
)
tenant_index(packages)
