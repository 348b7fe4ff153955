"""Snapshot inputs of the rating engine: frozen values mirroring Metronome's contract objects.

Field names follow Metronome's API (SPEC §3-5) so that the service layer can map contract, rate-card
and product JSON onto these classes one field at a time. Money amounts are in the credit type's unit
(USD: cents). Every datetime is timezone-aware UTC; every range is half-open [starting_at, ending_before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tally.money import USD, CreditType, CreditTypeConversion, RoundingMode

#: Group values as a sorted tuple of (key, value) pairs: hashable, and equal for equal mappings.
GroupValues = tuple[tuple[str, str | None], ...]
NO_GROUP: GroupValues = ()


def group_values(values: Mapping[str, str | None] | None) -> GroupValues:
    if not values:
        return NO_GROUP
    return tuple(sorted(values.items()))


class RatingInputError(ValueError):
    """The inputs are inconsistent (e.g. overlapping rates): the engine refuses to guess."""


class ProductType(StrEnum):
    USAGE = "USAGE"
    SUBSCRIPTION = "SUBSCRIPTION"
    COMPOSITE = "COMPOSITE"
    FIXED = "FIXED"
    PRO_SERVICE = "PRO_SERVICE"


class RateType(StrEnum):
    FLAT = "FLAT"
    TIERED = "TIERED"
    PERCENTAGE = "PERCENTAGE"
    TIERED_PERCENTAGE = "TIERED_PERCENTAGE"
    SUBSCRIPTION = "SUBSCRIPTION"
    CUSTOM = "CUSTOM"


class Frequency(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    SEMI_ANNUAL = "SEMI_ANNUAL"
    ANNUAL = "ANNUAL"


class AnchorDay(StrEnum):
    FIRST_OF_MONTH = "FIRST_OF_MONTH"
    CONTRACT_START = "CONTRACT_START"
    CUSTOM_DATE = "CUSTOM_DATE"


class OverrideType(StrEnum):
    OVERWRITE = "OVERWRITE"
    MULTIPLIER = "MULTIPLIER"
    TIERED = "TIERED"


class OverrideTarget(StrEnum):
    LIST_RATE = "LIST_RATE"
    COMMIT_RATE = "COMMIT_RATE"


class Prioritization(StrEnum):
    LOWEST_MULTIPLIER = "LOWEST_MULTIPLIER"
    EXPLICIT = "EXPLICIT"


class CommitType(StrEnum):
    PREPAID = "PREPAID"
    POSTPAID = "POSTPAID"
    CREDIT = "CREDIT"


class BalanceRateType(StrEnum):
    COMMIT_RATE = "COMMIT_RATE"
    LIST_RATE = "LIST_RATE"


class AccessType(StrEnum):
    SPEND = "SPEND"
    QUANTITY = "QUANTITY"


class AmountDistribution(StrEnum):
    DIVIDED = "DIVIDED"
    DIVIDED_ROUNDED = "DIVIDED_ROUNDED"
    EACH = "EACH"


class CollectionSchedule(StrEnum):
    ADVANCE = "ADVANCE"
    ARREARS = "ARREARS"


class ConversionOperation(StrEnum):
    MULTIPLY = "MULTIPLY"
    DIVIDE = "DIVIDE"


# --------------------------------------------------------------------------------------------- products


@dataclass(frozen=True, slots=True)
class QuantityConversion:
    conversion_factor: Decimal
    operation: ConversionOperation
    name: str | None = None


@dataclass(frozen=True, slots=True)
class QuantityRounding:
    rounding_method: RoundingMode  # ROUND_UP | ROUND_DOWN | ROUND_HALF_UP
    decimal_places: int


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    type: ProductType = ProductType.USAGE
    tags: tuple[str, ...] = ()
    quantity_conversion: QuantityConversion | None = None
    quantity_rounding: QuantityRounding | None = None
    pricing_group_key: tuple[str, ...] = ()
    presentation_group_key: tuple[str, ...] = ()
    composite_product_ids: tuple[str, ...] = ()
    composite_tags: tuple[str, ...] = ()
    include_composite_spend: bool = False
    exclude_free_usage: bool = False


# ----------------------------------------------------------------------------------------- rate cards


@dataclass(frozen=True, slots=True)
class Tier:
    """A graduated tier: the next ``size`` units (None = unbounded) at ``price`` each."""

    price: Decimal
    size: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CommitRate:
    rate_type: RateType
    price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True, slots=True)
class Rate:
    product_id: str
    rate_type: RateType
    starting_at: datetime
    ending_before: datetime | None = None
    entitled: bool = True
    price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    quantity: Decimal | None = None  # legacy SUBSCRIPTION rates
    is_prorated: bool = True
    billing_frequency: Frequency | None = None
    pricing_group_values: GroupValues = NO_GROUP
    credit_type_id: str | None = None  # None = USD (cents)
    commit_rate: CommitRate | None = None
    custom_rate: Mapping[str, object] | None = None
    minimum: Decimal | None = None  # composite minimum charge (SPEC §3.5)


@dataclass(frozen=True, slots=True)
class RateCard:
    id: str
    rates: tuple[Rate, ...]
    fiat_credit_type: CreditType = USD
    #: Product ids in invoice-line order (SPEC §4.5); products not listed follow, by id.
    product_order: tuple[str, ...] = ()
    credit_type_conversions: tuple[CreditTypeConversion, ...] = ()
    custom_credit_types: tuple[CreditType, ...] = ()


# ------------------------------------------------------------------------------------------ overrides


@dataclass(frozen=True, slots=True)
class Specifier:
    """OR across specifiers, AND within one (SPEC §5.3, §5.6)."""

    product_id: str | None = None
    product_tags: tuple[str, ...] = ()  # the product must carry all of them
    pricing_group_values: GroupValues = NO_GROUP
    presentation_group_values: GroupValues = NO_GROUP
    billing_frequency: Frequency | None = None


@dataclass(frozen=True, slots=True)
class OverwriteRate:
    rate_type: RateType
    price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    quantity: Decimal | None = None
    is_prorated: bool = True
    credit_type_id: str | None = None


@dataclass(frozen=True, slots=True)
class OverrideTier:
    multiplier: Decimal
    size: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Override:
    id: str
    starting_at: datetime
    ending_before: datetime | None = None
    #: None = an entitlement-only override (it only sets ``entitled``).
    type: OverrideType | None = None
    multiplier: Decimal | None = None
    overwrite_rate: OverwriteRate | None = None
    tiers: tuple[OverrideTier, ...] = ()
    entitled: bool | None = None
    priority: Decimal | None = None
    product_id: str | None = None
    applicable_product_tags: tuple[str, ...] = ()
    override_specifiers: tuple[Specifier, ...] = ()
    is_commit_specific: bool = False
    target: OverrideTarget = OverrideTarget.LIST_RATE
    commit_ids: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------- commits & credits


@dataclass(frozen=True, slots=True)
class AccessSegment:
    """One access-schedule item. ``consumed`` = already drawn by other invoices (from the ledger)."""

    id: str
    amount: Decimal
    starting_at: datetime
    ending_before: datetime
    consumed: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    """An invoice-schedule or scheduled-charge item: ``amount`` or ``unit_price x quantity``."""

    timestamp: datetime
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RecurringSchedule:
    starting_at: datetime
    ending_before: datetime
    frequency: Frequency
    amount_distribution: AmountDistribution = AmountDistribution.EACH
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    schedule_items: tuple[ScheduleItem, ...] = ()
    recurring_schedule: RecurringSchedule | None = None
    credit_type_id: str | None = None
    do_not_invoice: bool = False


@dataclass(frozen=True, slots=True)
class Commit:
    """A prepaid or postpaid commit, or a credit (``type=CREDIT``)."""

    id: str
    type: CommitType
    access_schedule: tuple[AccessSegment, ...]
    product_id: str | None = None
    name: str | None = None
    credit_type_id: str | None = None  # of the access schedule; None = USD (cents)
    access_type: AccessType = AccessType.SPEND
    invoice_schedule: Schedule | None = None
    applicable_product_ids: tuple[str, ...] = ()
    applicable_product_tags: tuple[str, ...] = ()
    specifiers: tuple[Specifier, ...] = ()
    priority: Decimal | None = None
    rate_type: BalanceRateType = BalanceRateType.LIST_RATE
    rollover_fraction: Decimal | None = None
    #: amount paid / amount granted; None = derived from the invoice schedule (credits: 0).
    cost_basis: Decimal | None = None
    is_rollover: bool = False
    #: Customer-level balance: None = contract-level; () = every contract of the customer.
    applicable_contract_ids: tuple[str, ...] | None = None
    payment_gate_released: bool = True
    #: Postpaid only: set False to disable the true-up.
    trueup_enabled: bool = True


# ----------------------------------------------------------------------- subscriptions & scheduled


@dataclass(frozen=True, slots=True)
class QuantityUpdate:
    starting_at: datetime
    quantity: Decimal | None = None
    quantity_delta: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProrationRounding:
    decimal_places: int
    rounding_method: RoundingMode


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    product_id: str
    billing_frequency: Frequency
    starting_at: datetime
    initial_quantity: Decimal = Decimal(1)
    ending_before: datetime | None = None
    collection_schedule: CollectionSchedule = CollectionSchedule.ARREARS
    is_prorated: bool = True
    bill_immediately: bool = True  # proration.invoice_behavior == BILL_IMMEDIATELY
    proration_rounding: ProrationRounding | None = None
    quantity_updates: tuple[QuantityUpdate, ...] = ()
    billing_anchor_date: datetime | None = None  # default: the contract's usage-statement anchor
    name: str | None = None
    #: billing_cycle_config.invoice_placement == ON_SCHEDULED_INVOICE: every charge on a SCHEDULED invoice
    on_scheduled_invoice: bool = False


@dataclass(frozen=True, slots=True)
class ScheduledCharge:
    id: str
    product_id: str
    schedule: Schedule
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Discount:
    """A contract discount: a FIXED product and a schedule of amounts (positive numbers = discount)."""

    id: str
    product_id: str
    schedule: Schedule
    name: str | None = None


# ------------------------------------------------------------------------------------ contract, usage


@dataclass(frozen=True, slots=True)
class UsageStatementSchedule:
    frequency: Frequency = Frequency.MONTHLY
    day: AnchorDay = AnchorDay.FIRST_OF_MONTH
    billing_anchor_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """Usage of one product for one group-value combination, stamped at the hour it happened.

    ``group_values`` holds the values of the product's pricing and presentation group keys. Several
    records for the same product, group and hour are summed (any batching gives the same invoice).
    A record pre-aggregated over a longer window is rated at its ``timestamp``: split such windows
    at rate and override changes.
    """

    product_id: str
    timestamp: datetime
    quantity: Decimal
    group_values: GroupValues = NO_GROUP


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    customer_id: str
    starting_at: datetime
    rate_card: RateCard
    products: Mapping[str, Product]
    ending_before: datetime | None = None
    usage_statement_schedule: UsageStatementSchedule = field(default_factory=UsageStatementSchedule)
    overrides: tuple[Override, ...] = ()
    commits: tuple[Commit, ...] = ()
    credits: tuple[Commit, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    scheduled_charges: tuple[ScheduledCharge, ...] = ()
    discounts: tuple[Discount, ...] = ()
    multiplier_override_prioritization: Prioritization = Prioritization.LOWEST_MULTIPLIER
    scheduled_charges_on_usage_invoices: bool = False
    net_payment_terms_days: int | None = None


@dataclass(frozen=True, slots=True)
class RatingOptions:
    """Choices the service layer may make per tenant; the defaults are documented in docs/rating.md."""

    line_rounding: RoundingMode = RoundingMode.HALF_UP
