"""The available prepaid balance a recharge compares with its threshold (tally.invoices.thresholds.
balance), hand-computed from balance documents."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tally.contracts.terms import model
from tally.invoices.thresholds import balance
from tally.money.credit_types import USD, USD_CENTS_ID
from tally.rating.inputs import AccessSegment, AccessType, Commit, CommitType
from tally.rating.results import Invoice, InvoiceType, LedgerEntry, LedgerEntryKind
from tests.unit.thresholds.values import prepaid_cfg

PREPAID = CommitType.PREPAID

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 15, tzinfo=UTC)


def _doc(
    bid: str,
    kind: str = "PREPAID",
    segments: tuple[tuple[str, str, datetime, datetime], ...] = (("s", "1000", JAN, FEB),),
    consumed: str = "0",
    access: dict[str, Any] | None = None,
) -> Commit:
    return Commit(
        id=bid,
        type=CommitType(kind),
        access_schedule=tuple(
            AccessSegment(sid, Decimal(amount), a, b, Decimal(consumed)) for sid, amount, a, b in segments
        ),
        credit_type_id=(access or {}).get("credit_type_id"),
        access_type=AccessType((access or {}).get("access_type", "SPEND")),
    )


def test_available_sums_the_active_spend_segments_in_the_credit_type() -> None:
    docs = [
        _doc("commit", consumed="250"),  # 1000 - 250 = 750
        _doc("credit", "CREDIT", (("s1", "100", JAN, FEB), ("s2", "900", FEB, MAR))),  # only s1 now: 100
        _doc("postpaid", "POSTPAID"),  # not a balance
        _doc("tokens", access={"credit_type_id": "tokens"}),  # another credit type
        _doc("access", access={"access_type": "QUANTITY"}),  # not SPEND
        _doc("excluded"),
    ]
    drawn = {("commit", "s"): Decimal("50"), ("credit", "s1"): Decimal("300")}
    # commit: 1000 - 250 consumed - 50 drawn by drafts = 700; credit s1: 100 - 300 -> 0 at least
    assert balance.available(docs, {"excluded"}, drawn, USD_CENTS_ID, NOW) == Decimal("700")


def test_available_in_a_custom_unit() -> None:
    docs = [_doc("tokens", access={"credit_type_id": "tokens"}), _doc("usd")]
    assert balance.available(docs, set(), {}, "tokens", NOW) == Decimal("1000")


def test_exclusions_gather_every_exclude_entry() -> None:
    a = _exclusion({"custom_field_filters": [{"entity": "Commit", "key": "k", "value": "v"}]})
    b = _exclusion({"custom_field_filters": []})
    cfg = prepaid_cfg(threshold_balance_specifiers=[{"exclude": [a]}, {"exclude": [b]}, {"exclude": []}])
    assert balance.exclusions(cfg) == [a, b]
    assert balance.exclusions(prepaid_cfg()) == []


def test_excluded_needs_every_filter_to_match_the_entity_and_value() -> None:
    kinds = {"c1": PREPAID, "c2": PREPAID, "cr": CommitType.CREDIT, "pp": CommitType.POSTPAID}
    fields = {
        "c1": {"team": "ops", "region": "eu"},
        "c2": {"team": "ops"},
        "cr": {"team": "ops"},
        "pp": {"team": "ops"},
    }
    ops_eu_commits = _exclusion(
        {
            "custom_field_filters": [
                {"entity": "Commit", "key": "team", "value": "ops"},
                {"entity": "Commit", "key": "region", "value": "eu"},
            ]
        }
    )
    ops_credits = _exclusion(
        {"custom_field_filters": [{"entity": "ContractCredit", "key": "team", "value": "ops"}]}
    )
    no_filters = _exclusion({"custom_field_filters": []})  # matches nothing
    # c1 matches both filters; c2 lacks region; cr is a credit (ContractCredit); pp is a commit, no region
    assert balance.excluded([ops_eu_commits, ops_credits, no_filters], kinds, fields) == {"c1", "cr"}
    either = _exclusion(
        {"custom_field_filters": [{"entity": "ContractCreditOrCommit", "key": "team", "value": "ops"}]}
    )
    assert balance.excluded([either], kinds, fields) == {"c1", "c2", "cr", "pp"}


def test_drawn_by_sums_the_prepaid_and_credit_deductions_per_segment() -> None:
    def entry(
        kind: LedgerEntryKind, commit_type: CommitType, amount: str, segment: str | None = "s"
    ) -> LedgerEntry:
        return LedgerEntry(kind, commit_type, Decimal(amount), JAN, "b", segment)

    drafts = [
        _invoice(
            entry(LedgerEntryKind.DEDUCTION, CommitType.PREPAID, "-30"),
            entry(LedgerEntryKind.DEDUCTION, CommitType.POSTPAID, "-500"),  # postpaid: not a balance
            entry(LedgerEntryKind.TRUEUP, CommitType.PREPAID, "-700"),  # not a draw-down
            entry(LedgerEntryKind.DEDUCTION, CommitType.PREPAID, "-900", segment=None),  # no segment
        ),
        _invoice(entry(LedgerEntryKind.DEDUCTION, CommitType.CREDIT, "-12")),
    ]
    # deductions are negative: 0 - (-30) - (-12) = 42 drawn from segment s of balance b
    assert balance.drawn_by(drafts) == {("b", "s"): Decimal("42")}


def _exclusion(doc: dict[str, Any]) -> model.BalanceExclusion:
    return model.parse(doc, model.BalanceExclusion)


def _invoice(*entries: LedgerEntry) -> Invoice:
    return Invoice(InvoiceType.USAGE, "c", "k", USD, JAN, FEB, (), Decimal(0), Decimal(0), entries)
