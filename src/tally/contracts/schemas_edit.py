"""Request model for v2 contract edits (/v2/contracts/edit).

Generated from api-catalog.json request_fields, then kept by hand. Structurally identical shapes share one
class, named after the first field that used it."""

from __future__ import annotations

from typing import Any, Literal

from tally.kit.api import Id, Num, Req, Str, Ts


class AddBillingProviderConfigurationUpdateBillingProviderConfiguration(Req):
    billing_provider: (
        Literal[
            "aws_marketplace",
            "stripe",
            "netsuite",
            "custom",
            "azure_marketplace",
            "quickbooks_online",
            "workday",
            "gcp_marketplace",
            "metronome",
        ]
        | None
    ) = None
    billing_provider_configuration_id: Id | None = None
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None


class AddBillingProviderConfigurationUpdateSchedule(Req):
    effective_at: Literal["START_OF_CURRENT_PERIOD", "START_OF_NEXT_PERIOD"]


class AddBillingProviderConfigurationUpdate(Req):
    billing_provider_configuration: AddBillingProviderConfigurationUpdateBillingProviderConfiguration
    schedule: AddBillingProviderConfigurationUpdateSchedule


class AddCommitAccessScheduleScheduleItem(Req):
    amount: Num
    ending_before: Ts
    starting_at: Ts


class AddCommitAccessSchedule(Req):
    schedule_items: list[AddCommitAccessScheduleScheduleItem]
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


class AddCommitInvoiceScheduleRecurringSchedule(Req):
    amount_distribution: Literal["DIVIDED", "DIVIDED_ROUNDED", "EACH"]
    ending_before: Ts
    frequency: Literal["MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "ANNUAL", "WEEKLY"]
    starting_at: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class AddCommitInvoiceScheduleScheduleItem(Req):
    timestamp: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class AddCommitInvoiceSchedule(Req):
    credit_type_id: Id | None = None
    do_not_invoice: bool | None = None
    recurring_schedule: AddCommitInvoiceScheduleRecurringSchedule | None = None
    schedule_items: list[AddCommitInvoiceScheduleScheduleItem] | None = None


class AddCommitPaymentGateConfigPrecalculatedTaxConfig(Req):
    tax_amount: Num
    tax_name: Str | None = None


class AddCommitPaymentGateConfigStripeConfig(Req):
    payment_type: Literal["INVOICE", "PAYMENT_INTENT"]
    invoice_metadata: dict[Str, Str] | None = None
    on_session_payment: bool | None = None


class AddCommitPaymentGateConfig(Req):
    payment_gate_type: Literal["NONE", "STRIPE", "EXTERNAL"]
    precalculated_tax_config: AddCommitPaymentGateConfigPrecalculatedTaxConfig | None = None
    stripe_config: AddCommitPaymentGateConfigStripeConfig | None = None
    tax_type: Literal["NONE", "STRIPE", "ANROK", "PRECALCULATED"] | None = None


class CommitSpecifierInput(Req):
    presentation_group_values: dict[Str, Str] | None = None
    pricing_group_values: dict[Str, Str] | None = None
    product_id: Id | None = None
    product_tags: list[Str] | None = None


class AddCommitSpendTrackerAttributes(Req):
    counts_as_discounted: bool


class AddCommit(Req):
    product_id: Id
    type: Literal["PREPAID", "POSTPAID"]
    access_schedule: AddCommitAccessSchedule | None = None
    amount: Num | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    invoice_schedule: AddCommitInvoiceSchedule | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    payment_gate_config: AddCommitPaymentGateConfig | None = None
    priority: Num | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    spend_tracker_attributes: AddCommitSpendTrackerAttributes | None = None
    temporary_id: Id | None = None


class AddCredit(Req):
    access_schedule: AddCommitAccessSchedule
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


class AddDiscount(Req):
    product_id: Id
    schedule: AddCommitInvoiceSchedule
    custom_fields: dict[Str, Str] | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None


class AddOverrideOverrideSpecifier(Req):
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


class AddOverrideOverwriteRate(Req):
    rate_type: Literal["FLAT", "PERCENTAGE", "SUBSCRIPTION", "TIERED", "TIERED_PERCENTAGE", "CUSTOM"]
    credit_type_id: Id | None = None
    custom_rate: dict[Str, Any] | None = None
    is_prorated: bool | None = None
    price: Num | None = None
    quantity: Num | None = None
    tiers: list[Tier] | None = None


class AddOverrideTier(Req):
    multiplier: Num
    size: Num | None = None


class AddOverride(Req):
    starting_at: Ts
    applicable_product_tags: list[Str] | None = None
    ending_before: Ts | None = None
    entitled: bool | None = None
    is_commit_specific: bool | None = None
    multiplier: Num | None = None
    override_specifiers: list[AddOverrideOverrideSpecifier] | None = None
    overwrite_rate: AddOverrideOverwriteRate | None = None
    priority: Num | None = None
    product_id: Id | None = None
    target: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    tiers: list[AddOverrideTier] | None = None
    type: Literal["OVERWRITE", "MULTIPLIER", "TIERED"] | None = None


class CommitDuration(Req):
    unit: Literal["DAYS", "WEEKS", "MONTHS", "YEARS"]
    value: int


class Commit(Req):
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


class StripeConfig(Req):
    payment_type: Literal["INVOICE", "PAYMENT_INTENT"]
    invoice_metadata: dict[Str, Str] | None = None


class PaymentGateConfigV2(Req):
    payment_gate_type: Literal["NONE", "STRIPE", "EXTERNAL"]
    precalculated_tax_config: AddCommitPaymentGateConfigPrecalculatedTaxConfig | None = None
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


class PrepaidBalanceThresholdConfigurationV2(Req):
    commit: Commit
    is_enabled: bool
    payment_gate_config: PaymentGateConfigV2
    recharge_to_amount: Num
    threshold_amount: Num
    custom_credit_type_id: Id | None = None
    discount_configuration: DiscountConfiguration | None = None
    threshold_balance_specifiers: list[ThresholdBalanceSpecifier] | None = None


class AddProfessionalService(Req):
    max_amount: Num
    product_id: Id
    quantity: Num
    unit_price: Num
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    netsuite_sales_order_id: Id | None = None


class AddRecurringCommitAccessAmount(Req):
    unit_price: Num
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    credit_type_id: Id | None = None
    quantity: Num | None = None


class AddRecurringCommitCommitDuration(Req):
    value: Num
    unit: Literal["PERIODS"] | None = None


class AddRecurringCommitInvoiceAmount(Req):
    credit_type_id: Id
    quantity: Num
    unit_price: Num


class AddRecurringCommitProrationRoundingAccess(Req):
    decimal_places: Num
    rounding_method: Literal["HALF_UP", "FLOOR", "CEILING"]


class AddRecurringCommitProrationRounding(Req):
    access: AddRecurringCommitProrationRoundingAccess | None = None
    invoice: AddRecurringCommitProrationRoundingAccess | None = None


class AddRecurringCommitSubscriptionConfigApplySeatIncreaseConfig(Req):
    is_prorated: bool


class AddRecurringCommitSubscriptionConfig(Req):
    apply_seat_increase_config: AddRecurringCommitSubscriptionConfigApplySeatIncreaseConfig
    subscription_id: Id
    allocation: Literal["POOLED", "INDIVIDUAL"] | None = None


class AddRecurringCommit(Req):
    access_amount: AddRecurringCommitAccessAmount
    commit_duration: AddRecurringCommitCommitDuration
    priority: Num
    product_id: Id
    starting_at: Ts
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    ending_before: Ts | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    invoice_amount: AddRecurringCommitInvoiceAmount | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    proration: Literal["NONE", "FIRST", "LAST", "FIRST_AND_LAST"] | None = None
    proration_rounding: AddRecurringCommitProrationRounding | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    recurrence_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY", "DAILY"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    subscription_config: AddRecurringCommitSubscriptionConfig | None = None
    temporary_id: Id | None = None


class AddRecurringCreditProrationRounding(Req):
    access: AddRecurringCommitProrationRoundingAccess | None = None


class AddRecurringCredit(Req):
    access_amount: AddRecurringCommitAccessAmount
    commit_duration: AddRecurringCommitCommitDuration
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
    proration_rounding: AddRecurringCreditProrationRounding | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    recurrence_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY", "DAILY"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None
    subscription_config: AddRecurringCommitSubscriptionConfig | None = None
    temporary_id: Id | None = None


class AddResellerRoyaltyAwsOptions(Req):
    aws_account_number: Str | None = None
    aws_offer_id: Id | None = None
    aws_payer_reference_id: Id | None = None


class AddResellerRoyaltyGcpOptions(Req):
    gcp_account_id: Id | None = None
    gcp_offer_id: Id | None = None


class AddResellerRoyalty(Req):
    reseller_type: Literal["AWS", "AWS_PRO_SERVICE", "GCP", "GCP_PRO_SERVICE"]
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    aws_options: AddResellerRoyaltyAwsOptions | None = None
    ending_before: Ts | None = None
    fraction: Num | None = None
    gcp_options: AddResellerRoyaltyGcpOptions | None = None
    netsuite_reseller_id: Id | None = None
    reseller_contract_value: Num | None = None
    starting_at: Ts | None = None


class AddRevenueSystemConfigurationUpdateRevenueSystemConfiguration(Req):
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None
    provider: Literal["netsuite"] | None = None
    revenue_system_configuration_id: Id | None = None


class AddRevenueSystemConfigurationUpdate(Req):
    revenue_system_configuration: AddRevenueSystemConfigurationUpdateRevenueSystemConfiguration
    schedule: AddBillingProviderConfigurationUpdateSchedule


class BaseThresholdCommit(Req):
    product_id: Id
    description: Str | None = None
    name: Str | None = None
    priority: Num | None = None


class SpendThresholdConfigurationV2(Req):
    commit: BaseThresholdCommit
    is_enabled: bool
    payment_gate_config: PaymentGateConfigV2
    threshold_amount: Num
    discount_configuration: DiscountConfiguration | None = None


class AddSpendTrackerApplicableSpendSpecifier(Req):
    sources: list[Literal["THRESHOLD_RECHARGE", "MANUAL"]]
    spend_type: Literal["COMMIT_PURCHASE"]
    discounted: Literal["ANY", "DISCOUNTED_ONLY", "UNDISCOUNTED_ONLY"] | None = None


class AddSpendTracker(Req):
    alias: Str
    applicable_spend_specifiers: list[AddSpendTrackerApplicableSpendSpecifier]
    credit_type_id: Id
    reset_frequency: Literal["BILLING_PERIOD"]


class AddSubscriptionProration(Req):
    invoice_behavior: Literal["BILL_IMMEDIATELY", "BILL_ON_NEXT_COLLECTION_DATE"] | None = None
    is_prorated: bool | None = None
    rounding: AddRecurringCommitProrationRoundingAccess | None = None


class AddSubscriptionSubscriptionRate(Req):
    billing_frequency: Literal["MONTHLY", "QUARTERLY", "ANNUAL", "WEEKLY"]
    product_id: Id


class AddSubscriptionBillingCycleConfig(Req):
    anchor_date: Ts | None = None
    invoice_placement: Literal["ON_SCHEDULED_INVOICE", "ON_USAGE_INVOICE"] | None = None


class AddSubscriptionSeatConfig(Req):
    initial_seat_ids: list[Id]
    seat_group_key: Str
    initial_unassigned_seats: Num | None = None


class AddSubscription(Req):
    collection_schedule: Literal["ADVANCE", "ARREARS"]
    proration: AddSubscriptionProration
    subscription_rate: AddSubscriptionSubscriptionRate
    billing_cycle_config: AddSubscriptionBillingCycleConfig | None = None
    custom_fields: dict[Str, Str] | None = None
    description: Str | None = None
    ending_before: Ts | None = None
    initial_quantity: Num | None = None
    name: Str | None = None
    quantity_management_mode: Literal["SEAT_BASED", "QUANTITY_ONLY"] | None = None
    seat_config: AddSubscriptionSeatConfig | None = None
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
    add_schedule_items: list[AddCommitAccessScheduleScheduleItem] | None = None
    remove_schedule_items: list[ArchiveCommit] | None = None
    update_schedule_items: list[UpdateCommitAccessScheduleUpdateScheduleItem] | None = None


class UpdateCommitInvoiceScheduleUpdateScheduleItem(Req):
    id: Id
    amount: Num | None = None
    quantity: Num | None = None
    timestamp: Ts | None = None
    unit_price: Num | None = None


class UpdateCommitInvoiceSchedule(Req):
    add_schedule_items: list[AddCommitInvoiceScheduleScheduleItem] | None = None
    remove_schedule_items: list[ArchiveCommit] | None = None
    update_schedule_items: list[UpdateCommitInvoiceScheduleUpdateScheduleItem] | None = None


class UpdateCommit(Req):
    commit_id: Id
    access_schedule: UpdateCommitAccessSchedule | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    invoice_schedule: UpdateCommitInvoiceSchedule | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    priority: Num | None = None
    product_id: Id | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None
    rollover_fraction: Num | None = None


class UpdateCredit(Req):
    credit_id: Id
    access_schedule: UpdateCommitAccessSchedule | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None
    priority: Num | None = None
    product_id: Id | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None
    rollover_fraction: Num | None = None


class UpdatePrepaidBalanceThresholdConfigurationCommit(Req):
    description: Str | None = None
    name: Str | None = None
    priority: Num | None = None
    product_id: Id | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    duration: CommitDuration | None = None
    rate_type: Literal["COMMIT_RATE", "LIST_RATE"] | None = None
    rollover_fraction: Num | None = None
    specifiers: list[CommitSpecifierInput] | None = None


class UpdatePrepaidBalanceThresholdConfigurationDiscountConfiguration(Req):
    cap: DiscountConfigurationCap | None = None
    payment_fraction: Num | None = None


class UpdatePrepaidBalanceThresholdConfiguration(Req):
    commit: UpdatePrepaidBalanceThresholdConfigurationCommit | None = None
    custom_credit_type_id: Id | None = None
    discount_configuration: UpdatePrepaidBalanceThresholdConfigurationDiscountConfiguration | None = None
    is_enabled: bool | None = None
    payment_gate_config: PaymentGateConfigV2 | None = None
    recharge_to_amount: Num | None = None
    threshold_amount: Num | None = None
    threshold_balance_specifiers: list[ThresholdBalanceSpecifier] | None = None


class UpdateRecurringCommitAccessAmount(Req):
    quantity: Num | None = None
    unit_price: Num | None = None


class UpdateRecurringCommit(Req):
    recurring_commit_id: Id
    access_amount: UpdateRecurringCommitAccessAmount | None = None
    ending_before: Ts | None = None
    invoice_amount: UpdateRecurringCommitAccessAmount | None = None
    proration_rounding: AddRecurringCommitProrationRounding | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None


class UpdateRecurringCredit(Req):
    recurring_credit_id: Id
    access_amount: UpdateRecurringCommitAccessAmount | None = None
    ending_before: Ts | None = None
    proration_rounding: AddRecurringCreditProrationRounding | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None


class UpdateScheduledCharge(Req):
    scheduled_charge_id: Id
    invoice_schedule: UpdateCommitInvoiceSchedule | None = None
    netsuite_sales_order_id: Id | None = None


class UpdateBaseThresholdCommit(Req):
    description: Str | None = None
    name: Str | None = None
    priority: Num | None = None
    product_id: Id | None = None


class UpdateSpendThresholdConfiguration(Req):
    commit: UpdateBaseThresholdCommit | None = None
    discount_configuration: UpdatePrepaidBalanceThresholdConfigurationDiscountConfiguration | None = None
    is_enabled: bool | None = None
    payment_gate_config: PaymentGateConfigV2 | None = None
    threshold_amount: Num | None = None


class UpdateSubscriptionQuantityManagementModeUpdateSeatConfig(Req):
    seat_group_key: Str


class UpdateSubscriptionQuantityManagementModeUpdate(Req):
    quantity_management_mode: Literal["SEAT_BASED"]
    seat_config: UpdateSubscriptionQuantityManagementModeUpdateSeatConfig


class UpdateSubscriptionQuantityUpdate(Req):
    starting_at: Ts
    quantity: Num | None = None
    quantity_delta: Num | None = None


class UpdateSubscriptionSeatUpdatesAddSeatID(Req):
    seat_ids: list[Id]
    starting_at: Ts


class UpdateSubscriptionSeatUpdatesAddUnassignedSeat(Req):
    quantity: Num
    starting_at: Ts


class UpdateSubscriptionSeatUpdates(Req):
    add_seat_ids: list[UpdateSubscriptionSeatUpdatesAddSeatID] | None = None
    add_unassigned_seats: list[UpdateSubscriptionSeatUpdatesAddUnassignedSeat] | None = None
    remove_seat_ids: list[UpdateSubscriptionSeatUpdatesAddSeatID] | None = None
    remove_unassigned_seats: list[UpdateSubscriptionSeatUpdatesAddUnassignedSeat] | None = None


class UpdateSubscription(Req):
    subscription_id: Id
    ending_before: Ts | None = None
    name: Str | None = None
    proration_rounding: AddRecurringCommitProrationRoundingAccess | None = None
    quantity_management_mode_update: UpdateSubscriptionQuantityManagementModeUpdate | None = None
    quantity_updates: list[UpdateSubscriptionQuantityUpdate] | None = None
    seat_updates: UpdateSubscriptionSeatUpdates | None = None


class EditContract(Req):
    contract_id: Id
    customer_id: Id
    add_billing_provider_configuration_update: AddBillingProviderConfigurationUpdate | None = None
    add_commits: list[AddCommit] | None = None
    add_credits: list[AddCredit] | None = None
    add_discounts: list[AddDiscount] | None = None
    add_overrides: list[AddOverride] | None = None
    add_prepaid_balance_threshold_configuration: PrepaidBalanceThresholdConfigurationV2 | None = None
    add_professional_services: list[AddProfessionalService] | None = None
    add_recurring_commits: list[AddRecurringCommit] | None = None
    add_recurring_credits: list[AddRecurringCredit] | None = None
    add_reseller_royalties: list[AddResellerRoyalty] | None = None
    add_revenue_system_configuration_update: AddRevenueSystemConfigurationUpdate | None = None
    add_scheduled_charges: list[AddDiscount] | None = None
    add_spend_threshold_configuration: SpendThresholdConfigurationV2 | None = None
    add_spend_trackers: list[AddSpendTracker] | None = None
    add_subscriptions: list[AddSubscription] | None = None
    allow_contract_ending_before_finalized_invoice: bool | None = None
    archive_commits: list[ArchiveCommit] | None = None
    archive_credits: list[ArchiveCommit] | None = None
    archive_scheduled_charges: list[ArchiveCommit] | None = None
    archive_spend_trackers: list[Str] | None = None
    remove_overrides: list[ArchiveCommit] | None = None
    uniqueness_key: Str | None = None
    update_commits: list[UpdateCommit] | None = None
    update_contract_end_date: Ts | None = None
    update_contract_name: Str | None = None
    update_credits: list[UpdateCredit] | None = None
    update_net_payment_terms_days: Num | None = None
    update_prepaid_balance_threshold_configuration: UpdatePrepaidBalanceThresholdConfiguration | None = None
    update_recurring_commits: list[UpdateRecurringCommit] | None = None
    update_recurring_credits: list[UpdateRecurringCredit] | None = None
    update_scheduled_charges: list[UpdateScheduledCharge] | None = None
    update_spend_threshold_configuration: UpdateSpendThresholdConfiguration | None = None
    update_subscriptions: list[UpdateSubscription] | None = None
