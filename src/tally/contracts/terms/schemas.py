"""Request models for contract terms shared by create, amend, v2 edit and customer commit/credit edits.

Each shape is defined once here; shapes that differ between endpoints (even by one Literal value) stay
in their endpoint's module. Class names are part of 400 messages ("instance of X", union member names),
so each keeps the name its first user gave it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from tally.kit.api import Id, Num, Req, Str, Ts


class CommitAccessScheduleScheduleItem(Req):
    amount: Num
    ending_before: Ts
    starting_at: Ts


class CommitAccessSchedule(Req):
    schedule_items: list[CommitAccessScheduleScheduleItem]
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    credit_type_id: Id | None = None


class ChildAccessCommitHierarchyChildAccessAll(Req):
    type: Literal["ALL"]


class ChildAccessCommitHierarchyChildAccessNone(Req):
    type: Literal["NONE"]


class ChildAccessCommitHierarchyChildAccessContractIDs(Req):
    contract_ids: list[Id]
    type: Literal["CONTRACT_IDS"]


class CommitHierarchyConfiguration(Req):
    child_access: (
        ChildAccessCommitHierarchyChildAccessAll
        | ChildAccessCommitHierarchyChildAccessNone
        | ChildAccessCommitHierarchyChildAccessContractIDs
    )


class CommitInvoiceScheduleScheduleItem(Req):
    timestamp: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class CommitSpecifierInput(Req):
    presentation_group_values: dict[Str, Str] | None = None
    pricing_group_values: dict[Str, Str] | None = None
    product_id: Id | None = None
    product_tags: list[Str] | None = None


class CommitSpendTrackerAttributes(Req):
    counts_as_discounted: bool


class BalanceScopeFields(Req):
    """What every commit and credit request (on a contract, added by a v2 edit, recurring) says about
    where its balance applies and how it is labelled."""

    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None


class Credit(BalanceScopeFields):
    access_schedule: CommitAccessSchedule
    product_id: Id
    custom_fields: dict[Str, Str] | None = None
    priority: Num | None = None


class OverrideOverrideSpecifier(Req):
    any_commit_or_credit_ids: list[Id] | None = None
    billing_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY"] | None = None
    commit_ids: list[Id] | None = None
    presentation_group_values: dict[Str, Str] | None = None
    pricing_group_values: dict[Str, Str] | None = None
    product_id: Id | None = None
    product_tags: list[Str] | None = None
    recurring_commit_ids: list[Id] | None = None


class Tier(Req):
    price: Num
    size: Num | None = None


class OverrideOverwriteRate(Req):
    rate_type: Literal["FLAT", "PERCENTAGE", "SUBSCRIPTION", "TIERED", "TIERED_PERCENTAGE", "CUSTOM"]
    credit_type_id: Id | None = None
    custom_rate: dict[Str, Any] | None = None
    is_prorated: bool | None = None
    price: Num | None = None
    quantity: Num | None = None
    tiers: list[Tier] | None = None


class OverrideTier(Req):
    multiplier: Num
    size: Num | None = None


class Override(Req):
    starting_at: Ts
    applicable_product_tags: list[Str] | None = None
    ending_before: Ts | None = None
    entitled: bool | None = None
    is_commit_specific: bool | None = None
    multiplier: Num | None = None
    override_specifiers: list[OverrideOverrideSpecifier] | None = None
    overwrite_rate: OverrideOverwriteRate | None = None
    priority: Num | None = None
    product_id: Id | None = None
    target: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    tiers: list[OverrideTier] | None = None
    type: Literal["OVERWRITE", "MULTIPLIER", "TIERED"] | None = None


# Durations are bounded so that every date they produce is a real date (at most 100 years out): an
# unbounded count would overflow date arithmetic deep inside billing.
_DURATION_MAX = {"DAYS": 36_500, "WEEKS": 5_200, "MONTHS": 1_200, "YEARS": 100}


class CommitDuration(Req):
    unit: Literal["DAYS", "WEEKS", "MONTHS", "YEARS"]
    value: int = Field(ge=1)

    @model_validator(mode="after")
    def _within_a_century(self) -> CommitDuration:
        if self.value > _DURATION_MAX[self.unit]:
            raise ValueError(f"value: at most {_DURATION_MAX[self.unit]} {self.unit.lower()}")
        return self


class RechargeCommitFields(Req):
    """A prepaid-balance threshold's recharge commit, besides its product: at create and in a v2 update."""

    description: Str | None = None
    name: Str | None = None
    priority: Num | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    duration: CommitDuration | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None


class CreateCommit(RechargeCommitFields):
    product_id: Id


class PrecalculatedTaxConfig(Req):
    tax_amount: Num
    tax_name: Str | None = None


class StripeConfig(Req):
    payment_type: Literal["INVOICE", "PAYMENT_INTENT"]
    invoice_metadata: dict[Str, Str] | None = None


class PaymentGateConfig(Req):
    payment_gate_type: Literal["NONE", "STRIPE", "EXTERNAL"]
    precalculated_tax_config: PrecalculatedTaxConfig | None = None
    stripe_config: StripeConfig | None = None
    tax_type: Literal["NONE", "STRIPE", "ANROK", "PRECALCULATED"] | None = None


class DiscountConfigurationCap(Req):
    amount: Num
    spend_tracker_alias: Str


class DiscountConfiguration(Req):
    payment_fraction: Num
    cap: DiscountConfigurationCap | None = None


class ThresholdBalanceSpecifierExcludeCustomFieldFilter(Req):
    entity: Literal["Commit", "ContractCredit", "ContractCreditOrCommit"]
    key: Str
    value: Str


class ThresholdBalanceSpecifierExclude(Req):
    custom_field_filters: list[ThresholdBalanceSpecifierExcludeCustomFieldFilter]


class ThresholdBalanceSpecifier(Req):
    exclude: list[ThresholdBalanceSpecifierExclude]


class PrepaidBalanceThresholdConfiguration(Req):
    commit: CreateCommit
    is_enabled: bool
    payment_gate_config: PaymentGateConfig
    recharge_to_amount: Num
    threshold_amount: Num
    custom_credit_type_id: Id | None = None
    discount_configuration: DiscountConfiguration | None = None
    threshold_balance_specifiers: list[ThresholdBalanceSpecifier] | None = None


class ProfessionalService(Req):
    max_amount: Num
    product_id: Id
    quantity: Num
    unit_price: Num
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    netsuite_sales_order_id: Id | None = None


class RecurringCommitAccessAmount(Req):
    unit_price: Num
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    credit_type_id: Id | None = None
    quantity: Num | None = None


class RecurringCommitCommitDuration(Req):
    value: Annotated[Num, Field(le=1_200)]  # periods: at most 100 years of monthly periods
    unit: Literal["PERIODS"] | None = None


class RecurringCommitInvoiceAmount(Req):
    credit_type_id: Id
    quantity: Num
    unit_price: Num


class RecurringCommitProrationRoundingAccess(Req):
    decimal_places: Num
    rounding_method: Literal["HALF_UP", "FLOOR", "CEILING"]


class RecurringCommitProrationRounding(Req):
    access: RecurringCommitProrationRoundingAccess | None = None
    invoice: RecurringCommitProrationRoundingAccess | None = None


class RecurringCommitSubscriptionConfigApplySeatIncreaseConfig(Req):
    is_prorated: bool


class RecurringCommitSubscriptionConfig(Req):
    apply_seat_increase_config: RecurringCommitSubscriptionConfigApplySeatIncreaseConfig
    subscription_id: Id
    allocation: Literal["INDIVIDUAL", "POOLED"] | None = None


class RecurringBalanceFields(BalanceScopeFields):
    """A recurring commit's and recurring credit's shared fields."""

    access_amount: RecurringCommitAccessAmount
    commit_duration: RecurringCommitCommitDuration
    priority: Num
    product_id: Id
    starting_at: Ts
    ending_before: Ts | None = None
    proration: Literal["NONE", "FIRST", "LAST", "FIRST_AND_LAST"] | None = None
    recurrence_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY", "DAILY"] | None = None
    subscription_config: RecurringCommitSubscriptionConfig | None = None
    temporary_id: Id | None = None


class RecurringCommit(RecurringBalanceFields):
    invoice_amount: RecurringCommitInvoiceAmount | None = None
    proration_rounding: RecurringCommitProrationRounding | None = None


class RecurringCreditProrationRounding(Req):
    access: RecurringCommitProrationRoundingAccess | None = None


class RecurringCredit(RecurringBalanceFields):
    proration_rounding: RecurringCreditProrationRounding | None = None


class ResellerRoyaltyAwsOptions(Req):
    aws_account_number: Str | None = None
    aws_offer_id: Id | None = None
    aws_payer_reference_id: Id | None = None


class ResellerRoyaltyGcpOptions(Req):
    gcp_account_id: Id | None = None
    gcp_offer_id: Id | None = None


class AmendResellerRoyalty(Req):
    reseller_type: Literal["AWS", "AWS_PRO_SERVICE", "GCP", "GCP_PRO_SERVICE"]
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    aws_options: ResellerRoyaltyAwsOptions | None = None
    ending_before: Ts | None = None
    fraction: Num | None = None
    gcp_options: ResellerRoyaltyGcpOptions | None = None
    netsuite_reseller_id: Id | None = None
    reseller_contract_value: Num | None = None
    starting_at: Ts | None = None


class BaseThresholdCommit(Req):
    product_id: Id
    description: Str | None = None
    name: Str | None = None
    priority: Num | None = None


class SpendThresholdConfiguration(Req):
    commit: BaseThresholdCommit
    is_enabled: bool
    payment_gate_config: PaymentGateConfig
    threshold_amount: Num
    discount_configuration: DiscountConfiguration | None = None


class SpendTrackerApplicableSpendSpecifier(Req):
    sources: list[Literal["THRESHOLD_RECHARGE", "MANUAL"]]
    spend_type: Literal["COMMIT_PURCHASE"]
    discounted: Literal["ANY", "DISCOUNTED_ONLY", "UNDISCOUNTED_ONLY"] | None = None


class SpendTracker(Req):
    alias: Str
    applicable_spend_specifiers: list[SpendTrackerApplicableSpendSpecifier]
    credit_type_id: Id
    reset_frequency: Literal["BILLING_PERIOD"]


class SubscriptionProration(Req):
    invoice_behavior: Literal["BILL_IMMEDIATELY", "BILL_ON_NEXT_COLLECTION_DATE"] | None = None
    is_prorated: bool | None = None
    rounding: RecurringCommitProrationRoundingAccess | None = None


class SubscriptionSubscriptionRate(Req):
    billing_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY"]
    product_id: Id


class SubscriptionBillingCycleConfig(Req):
    anchor_date: Ts | None = None
    invoice_placement: Literal["ON_SCHEDULED_INVOICE", "ON_USAGE_INVOICE"] | None = None


class SubscriptionSeatConfig(Req):
    initial_seat_ids: list[Id]
    seat_group_key: Str
    initial_unassigned_seats: Num | None = None


class Subscription(Req):
    collection_schedule: Literal["ADVANCE", "ARREARS"]
    proration: SubscriptionProration
    subscription_rate: SubscriptionSubscriptionRate
    billing_cycle_config: SubscriptionBillingCycleConfig | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    ending_before: Ts | None = None
    initial_quantity: Num | None = None
    name: Str | None = None
    quantity_management_mode: Literal["SEAT_BASED", "QUANTITY_ONLY"] | None = None
    seat_config: SubscriptionSeatConfig | None = None
    starting_at: Ts | None = None
    temporary_id: Id | None = None


class ArchiveCommit(Req):
    id: Id


class UpdateCommitAccessScheduleUpdateScheduleItem(Req):
    id: Id
    amount: Num | None = None
    ending_before: Ts | None = None
    starting_at: Ts | None = None


class UpdateCommitAccessSchedule(Req):
    add_schedule_items: list[CommitAccessScheduleScheduleItem] | None = None
    remove_schedule_items: list[ArchiveCommit] | None = None
    update_schedule_items: list[UpdateCommitAccessScheduleUpdateScheduleItem] | None = None


class UpdateCommitInvoiceScheduleUpdateScheduleItem(Req):
    id: Id
    amount: Num | None = None
    quantity: Num | None = None
    timestamp: Ts | None = None
    unit_price: Num | None = None


class UpdateCommitInvoiceSchedule(Req):
    add_schedule_items: list[CommitInvoiceScheduleScheduleItem] | None = None
    remove_schedule_items: list[ArchiveCommit] | None = None
    update_schedule_items: list[UpdateCommitInvoiceScheduleUpdateScheduleItem] | None = None
