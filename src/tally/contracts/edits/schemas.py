"""Request model for v2 contract edits (/v2/contracts/edit).

Generated from api-catalog.json request_fields, then kept by hand. Terms shared with create/amend live in
schemas_terms; the shapes here differ from those (extra fields, wider Literals, all-optional updates)."""

from __future__ import annotations

from typing import Literal

from tally.contracts.schemas_create import CommitFields
from tally.contracts.terms.schemas import (
    AmendResellerRoyalty,
    ArchiveCommit,
    CommitHierarchyConfiguration,
    CommitInvoiceScheduleScheduleItem,
    Credit,
    DiscountConfigurationCap,
    Override,
    PaymentGateConfig,
    PrecalculatedTaxConfig,
    PrepaidBalanceThresholdConfiguration,
    ProfessionalService,
    RechargeCommitFields,
    RecurringCommit,
    RecurringCommitProrationRounding,
    RecurringCommitProrationRoundingAccess,
    RecurringCredit,
    RecurringCreditProrationRounding,
    SpendThresholdConfiguration,
    SpendTracker,
    Subscription,
    ThresholdBalanceSpecifier,
    UpdateCommitAccessSchedule,
    UpdateCommitInvoiceSchedule,
)
from tally.kit.api import BillingProviderName, Id, Num, PaymentTermsDays, Req, Str, Ts


class AddBillingProviderConfigurationUpdateBillingProviderConfiguration(Req):
    billing_provider: BillingProviderName | None = None
    billing_provider_configuration_id: Id | None = None
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None


class AddBillingProviderConfigurationUpdateSchedule(Req):
    effective_at: Literal["START_OF_CURRENT_PERIOD", "START_OF_NEXT_PERIOD"]


class AddBillingProviderConfigurationUpdate(Req):
    billing_provider_configuration: AddBillingProviderConfigurationUpdateBillingProviderConfiguration
    schedule: AddBillingProviderConfigurationUpdateSchedule


class AddCommitInvoiceScheduleRecurringSchedule(Req):
    amount_distribution: Literal["DIVIDED", "DIVIDED_ROUNDED", "EACH"]
    ending_before: Ts
    frequency: Literal["MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "ANNUAL", "WEEKLY"]
    starting_at: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class AddCommitInvoiceSchedule(Req):
    credit_type_id: Id | None = None
    do_not_invoice: bool | None = None
    recurring_schedule: AddCommitInvoiceScheduleRecurringSchedule | None = None
    schedule_items: list[CommitInvoiceScheduleScheduleItem] | None = None


class AddCommitPaymentGateConfigStripeConfig(Req):
    payment_type: Literal["INVOICE", "PAYMENT_INTENT"]
    invoice_metadata: dict[Str, Str] | None = None
    on_session_payment: bool | None = None


class AddCommitPaymentGateConfig(Req):
    payment_gate_type: Literal["NONE", "STRIPE", "EXTERNAL"]
    precalculated_tax_config: PrecalculatedTaxConfig | None = None
    stripe_config: AddCommitPaymentGateConfigStripeConfig | None = None
    tax_type: Literal["NONE", "STRIPE", "ANROK", "PRECALCULATED"] | None = None


class AddCommit(CommitFields):
    invoice_schedule: AddCommitInvoiceSchedule | None = None
    payment_gate_config: AddCommitPaymentGateConfig | None = None


class AddDiscount(Req):
    product_id: Id
    schedule: AddCommitInvoiceSchedule
    custom_fields: dict[Str, Str] | None = None
    name: Str | None = None
    netsuite_sales_order_id: Id | None = None


class AddRevenueSystemConfigurationUpdateRevenueSystemConfiguration(Req):
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None
    provider: Literal["netsuite"] | None = None
    revenue_system_configuration_id: Id | None = None


class AddRevenueSystemConfigurationUpdate(Req):
    revenue_system_configuration: AddRevenueSystemConfigurationUpdateRevenueSystemConfiguration
    schedule: AddBillingProviderConfigurationUpdateSchedule


class UpdateBalanceFields(Req):
    """What a v2 edit may change on a commit and on a credit alike."""

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


class UpdateCommit(UpdateBalanceFields):
    commit_id: Id
    invoice_schedule: UpdateCommitInvoiceSchedule | None = None


class UpdateCredit(UpdateBalanceFields):
    credit_id: Id


class UpdatePrepaidBalanceThresholdConfigurationCommit(RechargeCommitFields):
    product_id: Id | None = None


class UpdatePrepaidBalanceThresholdConfigurationDiscountConfiguration(Req):
    cap: DiscountConfigurationCap | None = None
    payment_fraction: Num | None = None


class UpdatePrepaidBalanceThresholdConfiguration(Req):
    commit: UpdatePrepaidBalanceThresholdConfigurationCommit | None = None
    custom_credit_type_id: Id | None = None
    discount_configuration: UpdatePrepaidBalanceThresholdConfigurationDiscountConfiguration | None = None
    is_enabled: bool | None = None
    payment_gate_config: PaymentGateConfig | None = None
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
    proration_rounding: RecurringCommitProrationRounding | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None


class UpdateRecurringCredit(Req):
    recurring_credit_id: Id
    access_amount: UpdateRecurringCommitAccessAmount | None = None
    ending_before: Ts | None = None
    proration_rounding: RecurringCreditProrationRounding | None = None
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
    payment_gate_config: PaymentGateConfig | None = None
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
    proration_rounding: RecurringCommitProrationRoundingAccess | None = None
    quantity_management_mode_update: UpdateSubscriptionQuantityManagementModeUpdate | None = None
    quantity_updates: list[UpdateSubscriptionQuantityUpdate] | None = None
    seat_updates: UpdateSubscriptionSeatUpdates | None = None


class EditContract(Req):
    contract_id: Id
    customer_id: Id
    add_billing_provider_configuration_update: AddBillingProviderConfigurationUpdate | None = None
    add_commits: list[AddCommit] | None = None
    add_credits: list[Credit] | None = None
    add_discounts: list[AddDiscount] | None = None
    add_overrides: list[Override] | None = None
    add_prepaid_balance_threshold_configuration: PrepaidBalanceThresholdConfiguration | None = None
    add_professional_services: list[ProfessionalService] | None = None
    add_recurring_commits: list[RecurringCommit] | None = None
    add_recurring_credits: list[RecurringCredit] | None = None
    add_reseller_royalties: list[AmendResellerRoyalty] | None = None
    add_revenue_system_configuration_update: AddRevenueSystemConfigurationUpdate | None = None
    add_scheduled_charges: list[AddDiscount] | None = None
    add_spend_threshold_configuration: SpendThresholdConfiguration | None = None
    add_spend_trackers: list[SpendTracker] | None = None
    add_subscriptions: list[Subscription] | None = None
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
    update_net_payment_terms_days: PaymentTermsDays | None = None
    update_prepaid_balance_threshold_configuration: UpdatePrepaidBalanceThresholdConfiguration | None = None
    update_recurring_commits: list[UpdateRecurringCommit] | None = None
    update_recurring_credits: list[UpdateRecurringCredit] | None = None
    update_scheduled_charges: list[UpdateScheduledCharge] | None = None
    update_spend_threshold_configuration: UpdateSpendThresholdConfiguration | None = None
    update_subscriptions: list[UpdateSubscription] | None = None
