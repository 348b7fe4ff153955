"""Request models for creating contracts, amendments and customer-level commits/credits.

Generated from api-catalog.json request_fields (every field the SDK can send), then kept by hand.
Structurally identical shapes share one class, named after the first field that used it."""

from __future__ import annotations

from typing import Any, Literal

from tally.kit.api import Id, Num, Req, Str, Ts


class BillingProviderConfiguration(Req):
    billing_provider: (
        Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace", "stripe", "netsuite"] | None
    ) = None
    billing_provider_configuration_id: Id | None = None
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None


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


class CommitInvoiceScheduleRecurringSchedule(Req):
    amount_distribution: Literal["DIVIDED", "DIVIDED_ROUNDED", "EACH"]
    ending_before: Ts
    frequency: Literal["MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "ANNUAL"]
    starting_at: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class CommitInvoiceScheduleScheduleItem(Req):
    timestamp: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class CommitInvoiceSchedule(Req):
    credit_type_id: Id | None = None
    do_not_invoice: bool | None = None
    recurring_schedule: CommitInvoiceScheduleRecurringSchedule | None = None
    schedule_items: list[CommitInvoiceScheduleScheduleItem] | None = None


class CommitSpecifierInput(Req):
    presentation_group_values: dict[Str, Str] | None = None
    pricing_group_values: dict[Str, Str] | None = None
    product_id: Id | None = None
    product_tags: list[Str] | None = None


class CommitSpendTrackerAttributes(Req):
    counts_as_discounted: bool


class Commit(Req):
    product_id: Id
    type: Literal["PREPAID", "POSTPAID"]
    access_schedule: CommitAccessSchedule | None = None
    amount: Num | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    invoice_schedule: CommitInvoiceSchedule | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    priority: Num | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    spend_tracker_attributes: CommitSpendTrackerAttributes | None = None
    temporary_id: Id | None = None


class Credit(Req):
    access_schedule: CommitAccessSchedule
    product_id: Id
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    priority: Num | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None


class Discount(Req):
    product_id: Id
    schedule: CommitInvoiceSchedule
    custom_fields: dict[Str, Str] | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None


class HierarchyConfigurationParent(Req):
    contract_id: Id
    customer_id: Id


class HierarchyConfigurationParentBehavior(Req):
    invoice_consolidation_type: Literal["CONCATENATE", "NONE"] | None = None


class HierarchyConfiguration(Req):
    parent: HierarchyConfigurationParent | None = None
    parent_behavior: HierarchyConfigurationParentBehavior | None = None
    payer: Literal["SELF", "PARENT"] | None = None
    usage_statement_behavior: Literal["CONSOLIDATE", "SEPARATE"] | None = None


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


class CommitDuration(Req):
    unit: Literal["DAYS", "WEEKS", "MONTHS", "YEARS"]
    value: int


class CreateCommit(Req):
    product_id: Id
    description: Str | None = None
    name: Str | None = None
    priority: Num | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    duration: CommitDuration | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None


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
    value: Num
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


class RecurringCommit(Req):
    access_amount: RecurringCommitAccessAmount
    commit_duration: RecurringCommitCommitDuration
    priority: Num
    product_id: Id
    starting_at: Ts
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    ending_before: Ts | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    invoice_amount: RecurringCommitInvoiceAmount | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    proration: Literal["NONE", "FIRST", "LAST", "FIRST_AND_LAST"] | None = None
    proration_rounding: RecurringCommitProrationRounding | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    recurrence_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY", "DAILY"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    subscription_config: RecurringCommitSubscriptionConfig | None = None
    temporary_id: Id | None = None


class RecurringCreditProrationRounding(Req):
    access: RecurringCommitProrationRoundingAccess | None = None


class RecurringCredit(Req):
    access_amount: RecurringCommitAccessAmount
    commit_duration: RecurringCommitCommitDuration
    priority: Num
    product_id: Id
    starting_at: Ts
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    ending_before: Ts | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    proration: Literal["NONE", "FIRST", "LAST", "FIRST_AND_LAST"] | None = None
    proration_rounding: RecurringCreditProrationRounding | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    recurrence_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY", "DAILY"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    subscription_config: RecurringCommitSubscriptionConfig | None = None
    temporary_id: Id | None = None


class ResellerRoyaltyAwsOptions(Req):
    aws_account_number: Str | None = None
    aws_offer_id: Id | None = None
    aws_payer_reference_id: Id | None = None


class ResellerRoyaltyGcpOptions(Req):
    gcp_account_id: Id | None = None
    gcp_offer_id: Id | None = None


class ResellerRoyalty(Req):
    fraction: Num
    netsuite_reseller_id: Id
    reseller_type: Literal["AWS", "AWS_PRO_SERVICE", "GCP", "GCP_PRO_SERVICE"]
    starting_at: Ts
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    aws_options: ResellerRoyaltyAwsOptions | None = None
    ending_before: Ts | None = None
    gcp_options: ResellerRoyaltyGcpOptions | None = None
    reseller_contract_value: Num | None = None


class RevenueSystemConfiguration(Req):
    delivery_method: Literal["direct_to_billing_provider"] | None = None
    provider: Literal["netsuite"] | None = None
    revenue_system_configuration_id: Id | None = None


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


class TransitionFutureInvoiceBehavior(Req):
    trueup: Literal["REMOVE", "AS_IS"] | None = None


class Transition(Req):
    from_contract_id: Id
    type: Literal["RENEWAL"]
    future_invoice_behavior: TransitionFutureInvoiceBehavior | None = None


class BaseUsageFilter(Req):
    group_key: Str
    group_values: list[Str]
    starting_at: Ts | None = None


class UsageStatementSchedule(Req):
    frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY"]
    billing_anchor_date: Ts | None = None
    day: Literal["FIRST_OF_MONTH", "CONTRACT_START", "CUSTOM_DATE"] | None = None
    invoice_generation_starting_at: Ts | None = None


class CreateContract(Req):
    customer_id: Id
    starting_at: Ts
    billing_provider_configuration: BillingProviderConfiguration | None = None
    commits: list[Commit] | None = None
    credits: list[Credit] | None = None
    custom_fields: dict[Str, Str] | None = None
    discounts: list[Discount] | None = None
    ending_before: Ts | None = None
    hierarchy_configuration: HierarchyConfiguration | None = None
    multiplier_override_prioritization: Literal["LOWEST_MULTIPLIER", "EXPLICIT"] | None = None
    name: Str | None = None
    net_payment_terms_days: Num | None = None
    netsuite_sales_order_id: Id | None = None
    overrides: list[Override] | None = None
    package_alias: Str | None = None
    package_id: Id | None = None
    prepaid_balance_threshold_configuration: PrepaidBalanceThresholdConfiguration | None = None
    professional_services: list[ProfessionalService] | None = None
    rate_card_alias: Str | None = None
    rate_card_id: Id | None = None
    recurring_commits: list[RecurringCommit] | None = None
    recurring_credits: list[RecurringCredit] | None = None
    reseller_royalties: list[ResellerRoyalty] | None = None
    revenue_system_configuration: RevenueSystemConfiguration | None = None
    salesforce_opportunity_id: Id | None = None
    scheduled_charges: list[Discount] | None = None
    scheduled_charges_on_usage_invoices: Literal["ALL"] | None = None
    spend_threshold_configuration: SpendThresholdConfiguration | None = None
    spend_trackers: list[SpendTracker] | None = None
    subscriptions: list[Subscription] | None = None
    total_contract_value: Num | None = None
    transition: Transition | None = None
    uniqueness_key: Str | None = None
    usage_filter: BaseUsageFilter | None = None
    usage_statement_schedule: UsageStatementSchedule | None = None


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


class AmendContract(Req):
    contract_id: Id
    customer_id: Id
    starting_at: Ts
    commits: list[Commit] | None = None
    credits: list[Credit] | None = None
    custom_fields: dict[Str, Str] | None = None
    discounts: list[Discount] | None = None
    netsuite_sales_order_id: Id | None = None
    overrides: list[Override] | None = None
    professional_services: list[ProfessionalService] | None = None
    reseller_royalties: list[AmendResellerRoyalty] | None = None
    salesforce_opportunity_id: Id | None = None
    scheduled_charges: list[Discount] | None = None
    total_contract_value: Num | None = None


class CreateCustomerCommit(Req):
    access_schedule: CommitAccessSchedule
    customer_id: Id
    priority: Num
    product_id: Id
    type: Literal["PREPAID", "POSTPAID"]
    applicable_contract_ids: list[Id] | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    invoice_contract_id: Id | None = None
    invoice_schedule: CommitInvoiceSchedule | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    salesforce_opportunity_id: Id | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    uniqueness_key: Str | None = None


class CreateCustomerCredit(Req):
    access_schedule: CommitAccessSchedule
    customer_id: Id
    priority: Num
    product_id: Id
    applicable_contract_ids: list[Id] | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    salesforce_opportunity_id: Id | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    uniqueness_key: Str | None = None
