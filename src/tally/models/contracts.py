"""Contracts, their commits and credits, the edit history and the balance ledger (SPEC §5, §7).

A contract row holds its current terms as a Metronome-shaped document (what `rating.from_wire` reads);
commits and credits, contract-level or customer-level, live in `balances` so one ledger serves both.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from tally.db.types import ExactDecimal, JsonDoc, UtcDateTime
from tally.models.base import metadata


def _tenant() -> Column[str]:
    return Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False)


contracts = Table(
    "contracts",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
    Column("rate_card_id", String(36), nullable=True),
    Column("starting_at", UtcDateTime, nullable=False),
    Column("ending_before", UtcDateTime, nullable=True),
    Column("archived_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("uniqueness_key", String(255), nullable=True),
    # Current contract-level terms (no commits/credits: those are rows of `balances`).
    Column("terms", JsonDoc, nullable=False),
    # The terms as created: v1 `initial`.
    Column("initial_terms", JsonDoc, nullable=False),
    # The package the contract was created from (also in `terms`), for listContractsOnPackage.
    Column("package_id", String(36), nullable=True),
)
Index("ix_contracts_customer", contracts.c.tenant_id, contracts.c.customer_id, contracts.c.id)
Index("ix_contracts_package", contracts.c.tenant_id, contracts.c.package_id, contracts.c.id)

# Every commit and credit. contract_id NULL = customer-level (applies per applicable_contract_ids).
balances = Table(
    "balances",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
    Column("contract_id", String(36), nullable=True),
    # PREPAID | POSTPAID | CREDIT
    Column("kind", String(16), nullable=False),
    # The amendment (contract_edits.id) that added it; NULL when it came with the contract or standalone.
    Column("amendment_id", String(36), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
    Column("doc", JsonDoc, nullable=False),
)
Index("ix_balances_customer", balances.c.tenant_id, balances.c.customer_id, balances.c.id)
Index("ix_balances_contract", balances.c.tenant_id, balances.c.contract_id)

# Append-only: one row per create / amend / edit / end-date change / archive / usage-filter change.
contract_edits = Table(
    "contract_edits",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("contract_id", String(36), ForeignKey("contracts.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    # What changed, normalized (ids assigned).
    Column("changes", JsonDoc, nullable=False),
    # The full contract state after this edit (terms + contract-level commits/credits), for as_of_date.
    Column("snapshot", JsonDoc, nullable=False),
)
Index("uq_contract_edits_seq", contract_edits.c.contract_id, contract_edits.c.seq, unique=True)

# Append-only balance ledger. Segment starts and expirations are derived from the access schedule
# (the grant itself), so only entries that are not implied by the terms are stored here.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("customer_id", String(36), nullable=False),
    Column("contract_id", String(36), nullable=True),
    Column("balance_id", String(36), ForeignKey("balances.id"), nullable=False),
    Column("segment_id", String(36), nullable=True),
    Column("type", String(64), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("invoice_id", String(36), nullable=True),
    Column("reason", Text, nullable=True),
    Column("new_contract_id", String(36), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)
Index(
    "ix_ledger_entries_balance", ledger_entries.c.tenant_id, ledger_entries.c.balance_id, ledger_entries.c.id
)
