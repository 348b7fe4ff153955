"""Threshold billing state (SPEC §5.10, §5.11): one row per contract, read by the threshold evaluator.

The commits a crossing grants are ordinary `balances` rows (the durable record of what was granted); this
row is the per-contract lock every evaluation takes first, so two workers (or a worker and the immediate
evaluation after a contract write) never evaluate one contract at once, and it says which contracts have
an enabled configuration, so a pass reads only those.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table

from tally.db.types import UtcDateTime
from tally.models.base import metadata

threshold_state = Table(
    "threshold_state",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    # contract_edits.seq the `enabled` flag was read from; a newer edit makes the evaluator re-read terms.
    Column("synced_seq", Integer, nullable=False),
    # Either configuration enabled on a contract that is not archived.
    Column("enabled", Boolean, nullable=False),
    Column("evaluated_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_threshold_state_enabled", threshold_state.c.enabled)
