"""The pure decisions of threshold billing (tally.invoices.thresholds.decide), hand-computed: whether a
threshold is crossed, and the commit the crossing calls for. USD is in cents (0 places); EUR has 2."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tally.contracts.terms import model
from tally.invoices.thresholds import decide
from tally.money.credit_types import USD, fiat
from tally.rating.periods import Period
from tally.rating.results import Invoice, InvoiceLine, InvoiceType, LineType
from tests.unit.thresholds.values import prepaid_cfg, spend_cfg, terms

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 15, 10, 42, 7, 123456, tzinfo=UTC)
EUR = fiat("EUR")


def _line(kind: LineType, amount: str, credit_type_id: str = USD.id, excluded: bool = False) -> InvoiceLine:
    return InvoiceLine(
        key=f"{kind}:{amount}",
        type=kind,
        name=str(kind),
        credit_type_id=credit_type_id,
        total=Decimal(amount),
        exact_total=Decimal(amount),
        excluded_from_total=excluded,
    )


def _draft(*lines: InvoiceLine) -> Invoice:
    amount = sum((li.total for li in lines), Decimal(0))
    return Invoice(InvoiceType.USAGE, "c", "k", USD, JAN, FEB, lines, amount, amount)


def test_uncovered_counts_drawable_lines_less_prepaid_applied() -> None:
    inv = _draft(
        _line(LineType.USAGE, "700"),
        _line(LineType.SUBSCRIPTION, "300"),
        _line(LineType.CPU_CONVERSION, "50"),
        _line(LineType.APPLIED, "-400"),  # a prepaid commit paid 400 of it
        _line(LineType.APPLIED, "-90", excluded=True),  # postpaid: shown, not subtracted
        _line(LineType.SCHEDULED, "1000"),  # a scheduled charge: no threshold commit pays it
        _line(LineType.USAGE, "999", credit_type_id="custom-units"),  # not in the invoice's fiat
    )
    # 700 + 300 + 50 - 400 = 650
    assert decide.uncovered(inv) == Decimal("650")


@pytest.mark.parametrize(
    ("spend", "due"),
    [("499", False), ("500", True), ("501", True), ("0", False), ("-5", False)],
)
def test_spend_threshold_is_crossed_at_the_threshold(spend: str, due: bool) -> None:
    assert decide.spend_due(spend_cfg(threshold_amount=500), Decimal(spend)) is due


def test_spend_threshold_of_zero_needs_some_spend() -> None:
    assert decide.spend_due(spend_cfg(threshold_amount=0), Decimal(0)) is False
    assert decide.spend_due(spend_cfg(threshold_amount=0), Decimal("0.5")) is True


def test_spend_plan_is_the_uncovered_spend_for_the_period() -> None:
    period = Period(JAN, FEB)
    plan = decide.spend(Decimal("1234"), USD, period, Decimal("0.8"))
    assert plan.source == decide.SPEND_SOURCE
    assert (plan.amount, plan.credit_type_id, plan.access) == (Decimal("1234"), USD.id, period)
    # 1234 x 0.8 = 987.2 -> 987 cents (HALF_UP to 0 places)
    assert plan.invoiced == Decimal("987")
    assert plan.terms == {}
    assert plan.extra == {"period_starting_at": JAN, "uncovered_spend": Decimal("1234")}


@pytest.mark.parametrize(
    ("balance", "amount"),
    [
        ("1000", None),  # above the threshold (500)
        ("500.01", None),
        ("500", Decimal("1500")),  # at the threshold: 2000 - 500
        ("120", Decimal("1880")),  # 2000 - 120
        ("0", Decimal("2000")),
    ],
)
def test_recharge_brings_the_balance_back_to_the_target(balance: str, amount: Decimal | None) -> None:
    cfg = prepaid_cfg(threshold_amount=500, recharge_to_amount=2000)
    assert decide.recharge_amount(cfg, Decimal(balance)) == amount


def test_recharge_to_at_or_below_the_balance_grants_nothing() -> None:
    # threshold 500, recharge_to 300, balance 400: 300 - 400 = -100, nothing to grant
    assert (
        decide.recharge_amount(prepaid_cfg(threshold_amount=500, recharge_to_amount=300), Decimal(400))
        is None
    )


def test_recharge_plan_in_a_custom_unit_is_priced_and_rounded_in_fiat() -> None:
    cfg = prepaid_cfg(
        commit={
            "product_id": "p",
            "applicable_product_ids": ["a"],
            "applicable_product_tags": [],  # empty: not carried
            "rate_type": "COMMIT_RATE",
            "rollover_fraction": None,  # unset: not carried
            "duration": {"unit": "MONTHS", "value": 3},
        }
    )
    plan = decide.recharge(
        cfg, Decimal("150"), Decimal("20"), "tokens", EUR, Decimal("0.333"), Decimal("0.5"), NOW
    )
    assert plan.source == decide.RECHARGE_SOURCE
    assert (plan.amount, plan.credit_type_id, plan.fiat) == (Decimal("150"), "tokens", EUR)
    # 150 tokens x 0.333 EUR = 49.95 EUR; x 0.5 = 24.975 -> 24.98 (HALF_UP to 2 places)
    assert plan.invoiced == Decimal("24.98")
    # from the start of the current hour, for three months
    hour = datetime(2025, 1, 15, 10, tzinfo=UTC)
    assert plan.access == Period(hour, datetime(2025, 4, 15, 10, tzinfo=UTC))
    assert plan.terms == {"applicable_product_ids": ["a"], "rate_type": "COMMIT_RATE"}
    assert plan.extra == {"balance_before": Decimal("20")}


@pytest.mark.parametrize(
    ("duration", "end"),
    [
        (None, datetime(2026, 1, 31, tzinfo=UTC)),  # one year by default
        ({"unit": "DAYS", "value": 10}, datetime(2025, 2, 10, tzinfo=UTC)),
        ({"unit": "WEEKS", "value": 2}, datetime(2025, 2, 14, tzinfo=UTC)),
        ({"unit": "MONTHS", "value": 1}, datetime(2025, 2, 28, tzinfo=UTC)),  # Jan 31 + 1 month: month end
        ({"unit": "YEARS", "value": 2}, datetime(2027, 1, 31, tzinfo=UTC)),
    ],
)
def test_commit_duration(duration: dict[str, object] | None, end: datetime) -> None:
    typed = None if duration is None else model.parse(duration, model.CommitDuration)
    assert decide.access_end(datetime(2025, 1, 31, tzinfo=UTC), typed) == end


def test_enabled_needs_a_live_contract_with_an_enabled_configuration() -> None:
    on = terms(spend_threshold_configuration=spend_cfg(is_enabled=True))
    assert decide.enabled(on, None) is True
    assert (
        decide.enabled(terms(prepaid_balance_threshold_configuration=prepaid_cfg(is_enabled=True)), None)
        is True
    )
    assert decide.enabled(on, JAN) is False  # archived
    assert decide.enabled(terms(spend_threshold_configuration=spend_cfg(is_enabled=False)), None) is False
    assert decide.enabled(terms(), None) is False
    assert decide.enabled(None, None) is False  # terms not read: they name no configuration
