"""The available prepaid balance a recharge compares with its threshold (tally.invoices.thresholds.
balance), hand-computed from balance documents."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tally.invoices.thresholds import balance
from tally.money.credit_types import USD, USD_CENTS_ID
from tally.rating.inputs import CommitType
from tally.rating.results import Invoice, InvoiceType, LedgerEntry, LedgerEntryKind

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 15, tzinfo=UTC)


def _doc(
    bid: str,
    kind: str = "PREPAID",
    segments: tuple[tuple[str, str, datetime, datetime], ...] = (("s", "1000", JAN, FEB),),
    **extra: Any,
) -> dict[str, Any]:
    access = extra.pop("access", {})
    return {
        "id": bid,
        "type": kind,
        "access_schedule": {
            **access,
            "schedule_items": [
                {
                    "id": sid,
                    "amount": amount,
                    "starting_at": a,
                    "ending_before": b,
                    "consumed": extra.pop("consumed", "0"),
                }
                for sid, amount, a, b in segments
            ],
        },
        **extra,
    }


def test_available_sums_the_active_spend_segments_in_the_credit_type() -> None:
    docs = [
        _doc("commit", consumed="250"),  # 1000 - 250 = 750
        _doc("credit", "CREDIT", (("s1", "100", JAN, FEB), ("s2", "900", FEB, MAR))),  # only s1 now: 100
        _doc("postpaid", "POSTPAID"),  # not a balance
        _doc("seat", subscription_config={"allocation": "INDIVIDUAL"}),  # seat-level grant
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
    a = {"custom_field_filters": [{"entity": "Commit", "key": "k", "value": "v"}]}
    b = {"custom_field_filters": []}
    cfg = {"threshold_balance_specifiers": [{"exclude": [a]}, {"exclude": [b]}, {}]}
    assert balance.exclusions(cfg) == [a, b]
    assert balance.exclusions({}) == []


def test_excluded_needs_every_filter_to_match_the_entity_and_value() -> None:
    kinds = {"c1": "PREPAID", "c2": "PREPAID", "cr": "CREDIT", "pp": "POSTPAID"}
    fields = {
        "c1": {"team": "ops", "region": "eu"},
        "c2": {"team": "ops"},
        "cr": {"team": "ops"},
        "pp": {"team": "ops"},
    }
    ops_eu_commits = {
        "custom_field_filters": [
            {"entity": "Commit", "key": "team", "value": "ops"},
            {"entity": "Commit", "key": "region", "value": "eu"},
        ]
    }
    ops_credits = {"custom_field_filters": [{"entity": "ContractCredit", "key": "team", "value": "ops"}]}
    no_filters: dict[str, Any] = {"custom_field_filters": []}  # matches nothing
    # c1 matches both filters; c2 lacks region; cr is a credit (ContractCredit); pp is a commit, no region
    assert balance.excluded([ops_eu_commits, ops_credits, no_filters], kinds, fields) == {"c1", "cr"}
    either = {"custom_field_filters": [{"entity": "ContractCreditOrCommit", "key": "team", "value": "ops"}]}
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


def _invoice(*entries: LedgerEntry) -> Invoice:
    return Invoice(InvoiceType.USAGE, "c", "k", USD, JAN, FEB, (), Decimal(0), Decimal(0), entries)
