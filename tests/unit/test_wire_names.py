"""The engine's vocabulary (rating/results.py, rating/inputs.py) and Metronome's names for it
(invoices/wire.py): every engine value has exactly one wire name, and a wire name reads back to one meaning
wherever Metronome keeps the distinction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tally.contracts.balances.rollover import entry_type
from tally.invoices.wire import COMMIT_TYPE, LEDGER_ENTRY_TYPE, PRODUCT_TYPE, ledger_entry_type
from tally.rating.inputs import CommitType, ProductType
from tally.rating.results import LedgerEntry, LedgerEntryKind

METRONOME_PRODUCT_TYPES = {
    "UsageProductListItem",
    "SubscriptionProductListItem",
    "CompositeProductListItem",
    "FixedProductListItem",
}


@pytest.mark.parametrize(
    ("table", "vocabulary", "names"),
    [
        (PRODUCT_TYPE, set(ProductType), METRONOME_PRODUCT_TYPES),
        (COMMIT_TYPE, set(CommitType), {"PrepaidCommit", "PostpaidCommit"}),
    ],
    ids=["product_type", "commit_type"],
)
def test_every_value_has_one_wire_name(
    table: dict[object, str], vocabulary: set[object], names: set[str]
) -> None:
    assert set(table) == vocabulary  # no value unnamed, none named twice (a dict key is unique)
    assert set(table.values()) == names  # and every Metronome name is reached


def test_ledger_entry_types() -> None:
    # Every (kind, commit type) the engine can produce has one name: all four kinds for every commit type,
    # except a true-up, which only a postpaid commit has (SPEC §6.6).
    possible = {(k, c) for k in LedgerEntryKind for c in CommitType}
    possible -= {(LedgerEntryKind.TRUEUP, CommitType.PREPAID), (LedgerEntryKind.TRUEUP, CommitType.CREDIT)}
    assert set(LEDGER_ENTRY_TYPE) == possible
    # Distinct names: a stored ledger row reads back to exactly one kind and commit type.
    assert len(set(LEDGER_ENTRY_TYPE.values())) == len(LEDGER_ENTRY_TYPE)
    assert (
        LEDGER_ENTRY_TYPE[(LedgerEntryKind.DEDUCTION, CommitType.CREDIT)]
        == "CREDIT_AUTOMATED_INVOICE_DEDUCTION"
    )
    assert LEDGER_ENTRY_TYPE[(LedgerEntryKind.TRUEUP, CommitType.POSTPAID)] == "POSTPAID_COMMIT_TRUEUP"


@pytest.mark.parametrize("commit_type", list(CommitType))
@pytest.mark.parametrize("kind", [LedgerEntryKind.ROLLOVER, LedgerEntryKind.EXPIRATION])
def test_rollover_rows_are_stored_under_the_wire_name(kind: LedgerEntryKind, commit_type: CommitType) -> None:
    entry = LedgerEntry(kind, commit_type, Decimal(-1), datetime(2025, 1, 1, tzinfo=UTC), "c", "s")
    assert entry_type(entry) == ledger_entry_type(entry)
