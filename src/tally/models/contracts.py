"""Contracts, their commits and credits, the edit history and the balance ledger (SPEC §5, §7).

A contract row holds its current terms as a Metronome-shaped document (`contracts.terms.model` parses it);
commits and credits, contract-level or customer-level, live in `balances` so one ledger serves both.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from tally.db.types import ExactDecimal
from tally.models.base import at, doc, key, metadata, ref, tenant_ref


def _tenant() -> Column[str]:
    return tenant_ref()


contracts = Table(
    "contracts",
    metadata,
    key(),
    tenant_ref(),
    ref("customer_id", "customers"),
    ref("rate_card_id", nullable=True),
    at("starting_at"),
    at("ending_before", nullable=True),
    at("archived_at", nullable=True),
    at("created_at"),
    Column("created_by", String(255), nullable=False),
    Column("uniqueness_key", String(255), nullable=True),
    # Current contract-level terms (no commits/credits: those are rows of `balances`).
    doc("terms"),
    # The terms as created: v1 `initial`.
    doc("initial_terms"),
    # The package the contract was created from (also in `terms`), for listContractsOnPackage.
    ref("package_id", nullable=True),
)
Index("ix_contracts_customer", contracts.c.tenant_id, contracts.c.customer_id, contracts.c.id)
Index("ix_contracts_package", contracts.c.tenant_id, contracts.c.package_id, contracts.c.id)

# Every commit and credit. contract_id NULL = customer-level (applies per applicable_contract_ids).
balances = Table(
    "balances",
    metadata,
    key(),
    tenant_ref(),
    ref("customer_id", "customers"),
    ref("contract_id", nullable=True),
    # PREPAID | POSTPAID | CREDIT
    Column("kind", String(16), nullable=False),
    # The amendment (contract_edits.id) that added it; NULL when it came with the contract or standalone.
    ref("amendment_id", nullable=True),
    at("created_at"),
    at("archived_at", nullable=True),
    doc("doc"),
)
Index("ix_balances_customer", balances.c.tenant_id, balances.c.customer_id, balances.c.id)
Index("ix_balances_contract", balances.c.tenant_id, balances.c.contract_id)

# Append-only: one row per create / amend / edit / end-date change / archive / usage-filter change.
contract_edits = Table(
    "contract_edits",
    metadata,
    key(),
    tenant_ref(),
    ref("contract_id", "contracts"),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    at("effective_at"),
    at("created_at"),
    Column("created_by", String(255), nullable=False),
    # What changed, normalized (ids assigned).
    doc("changes"),
    # The full contract state after this edit (terms + contract-level commits/credits), for as_of_date.
    doc("snapshot"),
)
Index("uq_contract_edits_seq", contract_edits.c.contract_id, contract_edits.c.seq, unique=True)

# Append-only balance ledger. Segment starts and expirations are derived from the access schedule
# (the grant itself), so only entries that are not implied by the terms are stored here.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    key(),
    tenant_ref(),
    ref("customer_id"),
    ref("contract_id", nullable=True),
    ref("balance_id", "balances"),
    ref("segment_id", nullable=True),
    Column("type", String(64), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    at("timestamp"),
    ref("invoice_id", nullable=True),
    Column("reason", Text, nullable=True),
    ref("new_contract_id", nullable=True),
    at("created_at"),
)
Index(
    "ix_ledger_entries_balance", ledger_entries.c.tenant_id, ledger_entries.c.balance_id, ledger_entries.c.id
)
