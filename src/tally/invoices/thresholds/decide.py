"""The two pricing decisions of threshold billing, pure: whether a spend threshold or a prepaid-balance
threshold is crossed, and the commit (a `Plan`) the crossing calls for. The shell (`evaluate`) loads
the draft, balance and payment fraction they need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tally.contracts.terms import model
from tally.money import CreditType
from tally.money.context import mul, sub, total
from tally.money.rounding import RoundingMode, round_to
from tally.rating.periods import Period, add_months
from tally.rating.results import Invoice, LineType

SPEND_SOURCE = model.ThresholdSource.SPEND_THRESHOLD
RECHARGE_SOURCE = model.ThresholdSource.PREPAID_BALANCE_THRESHOLD
# Lines a threshold commit (fiat, applicable to everything) can pay.
_DRAWABLE = {LineType.USAGE, LineType.SUBSCRIPTION, LineType.CPU_CONVERSION}
# Terms of the configured commit a recharge commit carries over when set.
_APPLICABILITY = ("applicable_product_ids", "applicable_product_tags", "specifiers")
_CARRIED = ("rate_type", "rollover_fraction")


@dataclass(frozen=True)
class Plan:
    """A commit a crossing calls for, before it has an invoice date."""

    source: model.ThresholdSource
    amount: Decimal
    credit_type_id: str
    access: Period
    invoiced: Decimal  # in `fiat`
    fiat: CreditType
    fraction: Decimal
    terms: dict[str, Any]  # applicability, rate_type, rollover_fraction
    extra: dict[str, Any]  # recorded in the commit's `threshold_billing`


def enabled(terms: model.Terms | None, archived_at: datetime | None) -> bool:
    """Whether a live contract's terms enable either threshold configuration."""
    if archived_at is not None or terms is None:
        return False
    configs = (terms.spend_threshold_configuration, terms.prepaid_balance_threshold_configuration)
    return any(cfg is not None and cfg.is_enabled for cfg in configs)


def uncovered(inv: Invoice) -> Decimal:
    """What the draft still asks for on lines a prepaid commit could pay (usage, subscriptions, custom
    pricing unit conversions), after the prepaid commits and credits already applied to them."""
    fiat_id = inv.credit_type.id
    return total(
        li.total
        for li in inv.line_items
        if li.credit_type_id == fiat_id
        and not li.excluded_from_total
        and (li.type in _DRAWABLE or li.type is LineType.APPLIED)
    )


def spend_due(cfg: model.SpendThresholdConfiguration, uncovered_spend: Decimal) -> bool:
    """A spend threshold is crossed when the period's uncovered spend is positive and reaches it."""
    return uncovered_spend > 0 and uncovered_spend >= cfg.threshold_amount


def spend(uncovered_spend: Decimal, fiat: CreditType, period: Period, fraction: Decimal) -> Plan:
    """A commit of exactly the uncovered spend, applicable to everything, usable during `period`."""
    return Plan(
        SPEND_SOURCE,
        amount=uncovered_spend,
        credit_type_id=fiat.id,
        access=period,
        invoiced=invoiced(uncovered_spend, fraction, fiat),
        fiat=fiat,
        fraction=fraction,
        terms={},
        extra={"period_starting_at": period.starting_at, "uncovered_spend": uncovered_spend},
    )


def recharge_amount(cfg: model.PrepaidBalanceThresholdConfiguration, balance: Decimal) -> Decimal | None:
    """At or below the threshold, what brings the balance back up to `recharge_to_amount`; else None."""
    if balance > cfg.threshold_amount:
        return None
    amount = sub(cfg.recharge_to_amount, balance)
    return amount if amount > 0 else None


def recharge(
    cfg: model.PrepaidBalanceThresholdConfiguration,
    amount: Decimal,
    balance: Decimal,
    credit_type_id: str,
    fiat: CreditType,
    price: Decimal,
    fraction: Decimal,
    now: datetime,
) -> Plan:
    """A commit of `amount` in `credit_type_id` (bought at `price` fiat per unit), usable from the start
    of the current hour for the configured commit's duration, with its applicability."""
    commit = cfg.commit
    start = now.replace(minute=0, second=0, microsecond=0)
    terms = {k: v for k, v in model.pick(commit, _APPLICABILITY).items() if v}
    terms.update(model.pick(commit, _CARRIED))
    return Plan(
        RECHARGE_SOURCE,
        amount=amount,
        credit_type_id=credit_type_id,
        access=Period(start, access_end(start, commit.duration)),
        invoiced=invoiced(mul(amount, price), fraction, fiat),
        fiat=fiat,
        fraction=fraction,
        terms=terms,
        extra={"balance_before": balance},
    )


def invoiced(price: Decimal, fraction: Decimal, fiat: CreditType) -> Decimal:
    """What the commit purchase bills: `fraction` of its fiat price, rounded half up to the currency."""
    return round_to(mul(price, fraction), fiat.decimal_places, RoundingMode.HALF_UP)


def access_end(start: datetime, duration: model.CommitDuration | None) -> datetime:
    """`start` plus a commit duration (unit DAYS, WEEKS, MONTHS or YEARS); default one year."""
    unit, value = ("YEARS", 1) if duration is None else (duration.unit, int(duration.value))
    if unit == "DAYS":
        return start + timedelta(days=value)
    if unit == "WEEKS":
        return start + timedelta(weeks=value)
    return add_months(start, value * (12 if unit == "YEARS" else 1))
