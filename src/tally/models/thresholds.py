"""Threshold billing state (SPEC §5.10, §5.11): one row per contract, read by the threshold evaluator.

The commits a crossing grants are ordinary `balances` rows (the durable record of what was granted); this
row is the per-contract lock every evaluation takes first, so two workers (or a worker and the immediate
evaluation after a contract write) never evaluate one contract at once, and it says which contracts have
an enabled configuration, so a pass reads only those.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, Table

from tally.models.base import at, key, metadata, tenant_ref

threshold_state = Table(
    "threshold_state",
    metadata,
    key("contract_id"),
    tenant_ref(),
    # contract_edits.seq the `enabled` flag was read from; a newer edit makes the evaluator re-read terms.
    Column("synced_seq", Integer, nullable=False),
    # Either configuration enabled on a contract that is not archived.
    Column("enabled", Boolean, nullable=False),
    at("evaluated_at", nullable=True),
    at("updated_at"),
)
Index("ix_threshold_state_enabled", threshold_state.c.enabled)
