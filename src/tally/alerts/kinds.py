"""What each alert type measures, in which direction it fires, and what it needs at creation (SPEC §8.1).

Pure: no I/O. `service.create` checks the request against these tables; `figures` computes the measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    SPEND = "spend"  # current-period usage spend before commits/credits are drawn
    USAGE = "usage"  # billable-metric quantity in the current period
    INVOICE = "invoice"  # the largest net total of any active (draft) invoice
    MONTHLY = "monthly"  # the net totals of this period's usage invoices, summed across contracts
    BALANCE = "balance"  # remaining commit/credit balance, summed
    PERCENT = "percent"  # remaining / granted on active segments, in percent
    DAYS = "days"  # days left on each active segment (one part per segment)


COMMITS = ("PREPAID", "POSTPAID")
CREDITS = ("CREDIT",)
BOTH = (*COMMITS, *CREDITS)


@dataclass(frozen=True)
class Kind:
    family: Family
    #: `balances.kind` values a balance-family alert looks at.
    balance_kinds: tuple[str, ...] = ()

    @property
    def fires_at_or_above(self) -> bool:
        """True: in alarm when the figure is >= the threshold; False: when it is <= the threshold."""
        return self.family in (Family.SPEND, Family.USAGE, Family.INVOICE, Family.MONTHLY)

    @property
    def on_balances(self) -> bool:
        return self.family in (Family.BALANCE, Family.PERCENT, Family.DAYS)

    @property
    def figure_name(self) -> str:
        """The webhook property carrying the figure compared with the threshold."""
        return _FIGURE[self.family]


_FIGURE = {
    Family.SPEND: "spend",
    Family.USAGE: "usage",
    Family.INVOICE: "invoice_total",
    Family.MONTHLY: "invoice_total",
    Family.BALANCE: "remaining_balance",
    Family.PERCENT: "remaining_percentage",
    Family.DAYS: "remaining_days",
}

KINDS: dict[str, Kind] = {
    "spend_threshold_reached": Kind(Family.SPEND),
    "usage_threshold_reached": Kind(Family.USAGE),
    "invoice_total_reached": Kind(Family.INVOICE),
    "monthly_invoice_total_spend_threshold_reached": Kind(Family.MONTHLY),
    "low_remaining_commit_balance_reached": Kind(Family.BALANCE, COMMITS),
    "low_remaining_contract_credit_balance_reached": Kind(Family.BALANCE, CREDITS),
    "low_remaining_contract_credit_and_commit_balance_reached": Kind(Family.BALANCE, BOTH),
    "low_remaining_commit_percentage_reached": Kind(Family.PERCENT, COMMITS),
    "low_remaining_contract_credit_percentage_reached": Kind(Family.PERCENT, CREDITS),
    "low_remaining_contract_credit_and_commit_percentage_reached": Kind(Family.PERCENT, BOTH),
    "low_remaining_days_for_commit_segment_reached": Kind(Family.DAYS, COMMITS),
    "low_remaining_days_for_contract_credit_segment_reached": Kind(Family.DAYS, CREDITS),
}

#: Legacy Plans alerts: they watch credit grants and plans, which tally does not have.
PLANS_ONLY = {
    "low_credit_balance_reached": "low_remaining_contract_credit_balance_reached",
    "low_remaining_credit_percentage_reached": "low_remaining_contract_credit_percentage_reached",
    "low_remaining_days_in_plan_reached": "low_remaining_days_for_contract_credit_segment_reached",
}
SEAT_BALANCE = "low_remaining_seat_balance_reached"
COMBINED = {
    "low_remaining_contract_credit_and_commit_balance_reached",
    "low_remaining_contract_credit_and_commit_percentage_reached",
}

#: Invoice types tally issues (USAGE_CONSOLIDATED and the Plans types never occur).
INVOICE_TYPES = ("USAGE", "SCHEDULED")

#: Custom-field filter entity -> the balance kinds it can match (Contract: the balance's contract).
ENTITY_KINDS: dict[str, tuple[str, ...]] = {
    "Commit": COMMITS,
    "ContractCredit": CREDITS,
    "ContractCreditOrCommit": BOTH,
    "Contract": BOTH,
}
#: The custom-field entity (tally.custom_fields) holding the values of each filter entity, per kind.
FIELD_ENTITY = {"PREPAID": "commit", "POSTPAID": "commit", "CREDIT": "contract_credit"}
