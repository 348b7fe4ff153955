"""The stored contract terms as typed, immutable values (issue 13 §1).

A contract's `terms` document and each commit's or credit's `doc` are stored as Metronome-shaped JSON
(written by `terms.normalize`). They are parsed here once, where the contracts domain reads them from the
repository (`service.Contract.parsed`, `service.Balance.parsed`), and passed on as these values; the wire
builders are pure functions from them to JSON. `dump` gives back the stored JSON (a round trip keeps the
document: stored documents stay as they are, no migration).

msgspec Structs (frozen): parse + dump of a realistic contract is several times faster than pydantic and
than dataclasses converted by hand (`bench/terms_bench.py`), and msgspec is already the JSON codec.
Fields follow the request schemas' order, so a dumped piece has the stored key order. An unknown stored
key is an error (`forbid_unknown_fields`), so a value never silently drops part of its document.

Closed sets are enums, the rating engine's where the domain is the same (`CommitType`, `AccessType`,
`BalanceRateType`, `OverrideType`, `RateType`, `Frequency`, `AnchorDay`, `CollectionSchedule`, ...).
The threshold configurations and spend trackers are typed too (threshold billing reads them).
Configuration the contracts domain only stores and echoes (hierarchy, billing provider, reseller
royalties, custom rates) stays a JSON object (`Json`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from tally.money.rounding import RoundingMode
from tally.rating.inputs import (
    AccessType,
    AmountDistribution,
    AnchorDay,
    BalanceRateType,
    CollectionSchedule,
    CommitType,
    Frequency,
    OverrideTarget,
    OverrideType,
    Prioritization,
    RateType,
)
from tally.wire import format_timestamp

Json = dict[str, Any]

__all__ = [
    "AccessType",
    "AmountDistribution",
    "AnchorDay",
    "BalanceRateType",
    "CollectionSchedule",
    "CommitType",
    "Frequency",
    "OverrideTarget",
    "OverrideType",
    "Prioritization",
    "RateType",
]


class Proration(StrEnum):
    NONE = "NONE"
    FIRST = "FIRST"
    LAST = "LAST"
    FIRST_AND_LAST = "FIRST_AND_LAST"


class QuantityManagementMode(StrEnum):
    SEAT_BASED = "SEAT_BASED"
    QUANTITY_ONLY = "QUANTITY_ONLY"


class InvoicePlacement(StrEnum):
    ON_SCHEDULED_INVOICE = "ON_SCHEDULED_INVOICE"
    ON_USAGE_INVOICE = "ON_USAGE_INVOICE"


class TransitionType(StrEnum):
    RENEWAL = "RENEWAL"
    SUPERSEDE = "SUPERSEDE"


class PaymentGateType(StrEnum):
    NONE = "NONE"
    STRIPE = "STRIPE"
    EXTERNAL = "EXTERNAL"


class TaxType(StrEnum):
    NONE = "NONE"
    STRIPE = "STRIPE"
    ANROK = "ANROK"
    PRECALCULATED = "PRECALCULATED"


class StripePaymentType(StrEnum):
    INVOICE = "INVOICE"
    PAYMENT_INTENT = "PAYMENT_INTENT"


class CustomFieldEntity(StrEnum):
    """The balance kinds a threshold's custom-field filter names."""

    COMMIT = "Commit"
    CONTRACT_CREDIT = "ContractCredit"
    CONTRACT_CREDIT_OR_COMMIT = "ContractCreditOrCommit"


class SpendSource(StrEnum):
    """Where a commit purchase a spend tracker counts comes from."""

    THRESHOLD_RECHARGE = "THRESHOLD_RECHARGE"  # granted by threshold billing
    MANUAL = "MANUAL"  # every other commit


class SpendType(StrEnum):
    COMMIT_PURCHASE = "COMMIT_PURCHASE"


class DiscountedSpend(StrEnum):
    ANY = "ANY"
    DISCOUNTED_ONLY = "DISCOUNTED_ONLY"
    UNDISCOUNTED_ONLY = "UNDISCOUNTED_ONLY"


class ThresholdSource(StrEnum):
    """The threshold that granted a commit."""

    SPEND_THRESHOLD = "SPEND_THRESHOLD"
    PREPAID_BALANCE_THRESHOLD = "PREPAID_BALANCE_THRESHOLD"


class ResetFrequency(StrEnum):
    BILLING_PERIOD = "BILLING_PERIOD"


class _Value(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A stored piece: immutable; absent keys are None and are left out again on dump."""


# ------------------------------------------------------------------------------------- schedules


class ScheduleItem(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One dated invoice (an invoice schedule's item)."""

    id: str | None = None
    timestamp: datetime
    amount: Decimal | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    invoice_id: str | None = None
    archived_at: datetime | None = None


class RecurringSchedule(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount_distribution: AmountDistribution
    ending_before: datetime
    frequency: Frequency
    starting_at: datetime
    amount: Decimal | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None


class InvoiceSchedule(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    credit_type_id: str
    schedule_items: tuple[ScheduleItem, ...]
    do_not_invoice: bool | None = None
    recurring_schedule_source: RecurringSchedule | None = None


class Segment(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One access-schedule segment: `amount` usable in [starting_at, ending_before)."""

    id: str | None = None
    amount: Decimal
    ending_before: datetime
    starting_at: datetime
    archived_at: datetime | None = None


class AccessSchedule(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    access_type: AccessType | None = None  # SPEND when absent
    schedule_items: tuple[Segment, ...]
    credit_type_id: str | None = None


class Specifier(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    presentation_group_values: dict[str, str] | None = None
    pricing_group_values: dict[str, str] | None = None
    product_id: str | None = None
    product_tags: tuple[str, ...] | None = None


class RolledOverFrom(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commit_id: str | None = None
    credit_id: str | None = None
    contract_id: str


class SpendTrackerAttributes(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    counts_as_discounted: bool


class ThresholdBilling(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """On a commit threshold billing granted: which threshold, and what it saw."""

    source: ThresholdSource
    period_starting_at: datetime | None = None  # a spend threshold's usage period
    uncovered_spend: Decimal | None = None
    balance_before: Decimal | None = None  # a recharge's


class Balance(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A commit (PREPAID or POSTPAID) or credit (CREDIT), contract- or customer-level."""

    product_id: str
    type: CommitType
    customer_id: str | None = None
    priority: Decimal | None = None
    applicable_contract_ids: tuple[str, ...] | None = None
    applicable_product_ids: tuple[str, ...] | None = None
    applicable_product_tags: tuple[str, ...] | None = None
    description: str | None = None
    hierarchy_configuration: Json | None = None
    name: str | None = None
    netsuite_sales_order_id: str | None = None
    rate_type: BalanceRateType | None = None
    rollover_fraction: Decimal | None = None
    salesforce_opportunity_id: str | None = None
    specifiers: tuple[Specifier, ...] | None = None
    spend_tracker_attributes: SpendTrackerAttributes | None = None
    temporary_id: str | None = None
    uniqueness_key: str | None = None
    invoice_contract_id: str | None = None
    payment_gate_config: Json | None = None
    id: str
    access_schedule: AccessSchedule
    created_at: datetime
    invoice_schedule: InvoiceSchedule | None = None
    cost_basis: Decimal | None = None
    rolled_over_from: RolledOverFrom | None = None
    recurring_commit_id: str | None = None
    recurring_credit_id: str | None = None
    disable_trueup: bool | None = None
    threshold_billing: ThresholdBilling | None = None


# ------------------------------------------------------------------------------------- overrides


class OverrideSpecifier(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    any_commit_or_credit_ids: tuple[str, ...] | None = None
    billing_frequency: Frequency | None = None
    commit_ids: tuple[str, ...] | None = None
    presentation_group_values: dict[str, str] | None = None
    pricing_group_values: dict[str, str] | None = None
    product_id: str | None = None
    product_tags: tuple[str, ...] | None = None
    recurring_commit_ids: tuple[str, ...] | None = None


class Tier(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    price: Decimal
    size: Decimal | None = None


class OverwriteRate(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    rate_type: RateType
    credit_type_id: str | None = None
    custom_rate: Json | None = None
    is_prorated: bool | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    tiers: tuple[Tier, ...] | None = None


class OverrideTier(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    multiplier: Decimal
    size: Decimal | None = None


class Override(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    starting_at: datetime
    applicable_product_tags: tuple[str, ...] | None = None
    ending_before: datetime | None = None
    entitled: bool | None = None
    is_commit_specific: bool | None = None
    multiplier: Decimal | None = None
    override_specifiers: tuple[OverrideSpecifier, ...] | None = None
    overwrite_rate: OverwriteRate | None = None
    priority: Decimal | None = None
    product_id: str | None = None
    target: OverrideTarget | None = None
    tiers: tuple[OverrideTier, ...] | None = None
    type: OverrideType | None = None
    id: str
    created_at: datetime
    archived_at: datetime | None = None


# ------------------------------------------------------------------------------ other terms


class ScheduledCharge(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A scheduled charge or a discount: a FIXED product billed on a schedule."""

    product_id: str
    schedule: InvoiceSchedule
    name: str | None = None
    netsuite_sales_order_id: str | None = None
    id: str
    archived_at: datetime | None = None


class ProfessionalService(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_amount: Decimal
    product_id: str
    quantity: Decimal
    unit_price: Decimal
    description: str | None = None
    netsuite_sales_order_id: str | None = None
    id: str


class AccessAmount(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    unit_price: Decimal
    access_type: AccessType | None = None
    credit_type_id: str | None = None
    quantity: Decimal | None = None


class CommitDuration(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    unit: str
    value: Decimal


class InvoiceAmount(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    credit_type_id: str
    quantity: Decimal
    unit_price: Decimal


class Rounding(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decimal_places: Decimal
    rounding_method: RoundingMode  # HALF_UP | FLOOR | CEILING (the request schema's Literal)


class ProrationRounding(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    access: Rounding | None = None
    invoice: Rounding | None = None


class Recurring(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A recurring commit or credit template (its children are ordinary balances)."""

    access_amount: AccessAmount
    commit_duration: CommitDuration
    priority: Decimal
    product_id: str
    starting_at: datetime
    applicable_product_ids: tuple[str, ...] | None = None
    applicable_product_tags: tuple[str, ...] | None = None
    description: str | None = None
    ending_before: datetime | None = None
    hierarchy_configuration: Json | None = None
    name: str | None = None
    netsuite_sales_order_id: str | None = None
    proration: Proration
    rate_type: BalanceRateType
    recurrence_frequency: Frequency | None = None
    rollover_fraction: Decimal | None = None
    specifiers: tuple[Specifier, ...] | None = None
    subscription_config: Json | None = None
    temporary_id: str | None = None
    invoice_amount: InvoiceAmount | None = None
    proration_rounding: ProrationRounding | None = None
    id: str
    archived_at: datetime | None = None


# ------------------------------------------------------- threshold billing (SPEC §5.10, §5.11, §5.17)


class PrecalculatedTaxConfig(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tax_amount: Decimal
    tax_name: str | None = None


class StripeConfig(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    payment_type: StripePaymentType
    invoice_metadata: dict[str, str] | None = None


class PaymentGateConfig(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    payment_gate_type: PaymentGateType
    precalculated_tax_config: PrecalculatedTaxConfig | None = None
    stripe_config: StripeConfig | None = None
    tax_type: TaxType | None = None


class DiscountCap(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Full price again once the spend tracker `spend_tracker_alias` has tracked `amount`."""

    amount: Decimal
    spend_tracker_alias: str


class DiscountConfiguration(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Optional here: a v2 edit may merge a cap into a configuration without one (then refused, by name).
    payment_fraction: Decimal | None = None
    cap: DiscountCap | None = None


class CustomFieldFilter(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    entity: CustomFieldEntity
    key: str
    value: str


class BalanceExclusion(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    custom_field_filters: tuple[CustomFieldFilter, ...]


class ThresholdBalanceSpecifier(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    exclude: tuple[BalanceExclusion, ...]


class ThresholdCommit(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The commit a spend threshold grants."""

    product_id: str
    description: str | None = None
    name: str | None = None
    priority: Decimal | None = None


class RechargeCommit(ThresholdCommit, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The commit a prepaid-balance recharge grants: also its applicability, duration and rate."""

    applicable_product_ids: tuple[str, ...] | None = None
    applicable_product_tags: tuple[str, ...] | None = None
    duration: CommitDuration | None = None  # one year when absent
    rate_type: BalanceRateType | None = None
    rollover_fraction: Decimal | None = None
    specifiers: tuple[Specifier, ...] | None = None


class SpendThresholdConfiguration(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commit: ThresholdCommit
    is_enabled: bool
    payment_gate_config: PaymentGateConfig
    threshold_amount: Decimal
    discount_configuration: DiscountConfiguration | None = None


class PrepaidBalanceThresholdConfiguration(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commit: RechargeCommit
    is_enabled: bool
    payment_gate_config: PaymentGateConfig
    recharge_to_amount: Decimal
    threshold_amount: Decimal
    custom_credit_type_id: str | None = None  # the contract's fiat when absent
    discount_configuration: DiscountConfiguration | None = None
    threshold_balance_specifiers: tuple[ThresholdBalanceSpecifier, ...] | None = None


ThresholdConfiguration = SpendThresholdConfiguration | PrepaidBalanceThresholdConfiguration


class SpendSpecifier(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which commit purchases a spend tracker counts."""

    sources: tuple[SpendSource, ...]
    spend_type: SpendType
    discounted: DiscountedSpend | None = None  # ANY when absent


class SpendTracker(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    alias: str
    applicable_spend_specifiers: tuple[SpendSpecifier, ...]
    credit_type_id: str
    reset_frequency: ResetFrequency


class SubscriptionRate(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    billing_frequency: Frequency
    product_id: str


class BillingCycleConfig(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    anchor_date: datetime | None = None
    invoice_placement: InvoicePlacement | None = None


class SeatConfig(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    initial_seat_ids: tuple[str, ...]
    seat_group_key: str
    initial_unassigned_seats: Decimal | None = None


class Subscription(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    collection_schedule: CollectionSchedule
    # Echoed as stored: its key order follows the request (the defaults are appended), so it stays JSON.
    proration: Json
    subscription_rate: SubscriptionRate
    billing_cycle_config: BillingCycleConfig | None = None
    description: str | None = None
    ending_before: datetime | None = None
    initial_quantity: Decimal | None = None
    name: str | None = None
    quantity_management_mode: QuantityManagementMode
    seat_config: SeatConfig | None = None
    starting_at: datetime
    temporary_id: str | None = None
    id: str
    created_at: datetime
    quantity_updates: tuple[Json, ...] | None = None
    seat_events: tuple[Json, ...] | None = None
    archived_at: datetime | None = None


class UsageStatementSchedule(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    frequency: Frequency
    day: AnchorDay
    billing_anchor_date: datetime | None = None
    invoice_generation_starting_at: datetime | None = None


class UsageFilter(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    group_key: str
    group_values: tuple[str, ...]
    starting_at: datetime
    ending_before: datetime | None = None


class RolloverPending(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A renewal's rollover waiting for the old contract's final usage invoice (`ending_before` is null
    for an open-ended renewal: stored as null, so this piece keeps its None values)."""

    at: datetime
    ending_before: datetime | None
    final_usage_end: datetime


class Transition(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    from_contract_id: str
    to_contract_id: str
    type: TransitionType
    future_invoice_behavior: Json | None = None
    rollover_pending: RolloverPending | None = None
    rollover_done_at: datetime | None = None


class Terms(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A contract's stored terms (its commits and credits are stored apart, as `Balance`s)."""

    id: str
    customer_id: str
    starting_at: datetime
    ending_before: datetime | None = None
    rate_card_id: str | None = None
    usage_statement_schedule: UsageStatementSchedule
    multiplier_override_prioritization: Prioritization
    package_id: str | None = None
    name: str | None = None
    net_payment_terms_days: Decimal | None = None
    scheduled_charges_on_usage_invoices: str | None = None
    spend_threshold_configuration: SpendThresholdConfiguration | None = None
    prepaid_balance_threshold_configuration: PrepaidBalanceThresholdConfiguration | None = None
    spend_trackers: tuple[SpendTracker, ...] | None = None
    hierarchy_configuration: Json | None = None
    billing_provider_configuration: Json | None = None
    reseller_royalties: tuple[Json, ...] | None = None
    revenue_system_configuration: Json | None = None
    salesforce_opportunity_id: str | None = None
    netsuite_sales_order_id: str | None = None
    total_contract_value: Decimal | None = None
    overrides: tuple[Override, ...]
    scheduled_charges: tuple[ScheduledCharge, ...]
    discounts: tuple[ScheduledCharge, ...]
    subscriptions: tuple[Subscription, ...]
    professional_services: tuple[ProfessionalService, ...]
    recurring_commits: tuple[Recurring, ...]
    recurring_credits: tuple[Recurring, ...]
    usage_filter: tuple[UsageFilter, ...]
    transitions: tuple[Transition, ...]
    archived_at: datetime | None = None


class Amendment(_Value, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The terms a v1 amendment added (its edit's `changes`; its commits and credits are `Balance`s)."""

    overrides: tuple[Override, ...] | None = None
    scheduled_charges: tuple[ScheduledCharge, ...] | None = None
    discounts: tuple[ScheduledCharge, ...] | None = None
    subscriptions: tuple[Subscription, ...] | None = None
    professional_services: tuple[ProfessionalService, ...] | None = None
    recurring_commits: tuple[Recurring, ...] | None = None
    recurring_credits: tuple[Recurring, ...] | None = None
    starting_at: datetime
    netsuite_sales_order_id: str | None = None
    salesforce_opportunity_id: str | None = None
    total_contract_value: Decimal | None = None


class SnapshotBalance(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    kind: CommitType
    amendment_id: str | None
    created_at: datetime
    archived_at: datetime | None
    doc: Json


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole state an edit-history row keeps (`service.snapshot`): terms, archival, balances."""

    terms: Json
    archived_at: datetime | None
    balances: tuple[SnapshotBalance, ...]


# ------------------------------------------------------------------------------- parse / dump

V = TypeVar("V", bound=msgspec.Struct)


def parse(doc: Json, kind: type[V]) -> V:
    """A stored document (or a piece of one) as its typed value."""
    return msgspec.convert(doc, kind, strict=False)


def dump(value: msgspec.Struct) -> Json:
    """The stored JSON of a typed value (timestamps as the RFC 3339 strings documents store)."""
    out: Json = plain(msgspec.to_builtins(value, builtin_types=(Decimal, datetime)))
    return out


def with_json(value: V, changes: Json) -> V:
    """`value` with the fields named in `changes` set to their values (JSON or request values), each
    converted to its field's type."""
    types = {f.name: f.type for f in msgspec.structs.fields(value)}
    return msgspec.structs.replace(
        value, **{k: msgspec.convert(v, types[k], strict=False) for k, v in changes.items()}
    )


def json_of(value: Any) -> Any:
    """A typed value (or a field of one) as the JSON its document holds: lists, RFC 3339 strings, objects."""
    if isinstance(value, msgspec.Struct):
        return dump(value)
    if isinstance(value, tuple):
        return [json_of(v) for v in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def pick(value: msgspec.Struct, keys: Iterable[str]) -> Json:
    """The fields `keys` of `value` that are set, in that order, as JSON."""
    return {k: json_of(v) for k in keys if (v := getattr(value, k)) is not None}


def plain(value: Any) -> Any:
    """A JSON value with datetimes as the RFC 3339 strings documents store."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
