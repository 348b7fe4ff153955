"""Request models for creating contracts, amendments and customer-level commits/credits.

Generated from api-catalog.json request_fields (every field the SDK can send), then kept by hand.
Terms shared with the v2 edit live in schemas_terms; only shapes specific to these endpoints are here."""

from __future__ import annotations

from typing import Literal

from tally.contracts.terms.schemas import (
    AmendResellerRoyalty,
    BalanceScopeFields,
    CommitAccessSchedule,
    CommitInvoiceScheduleScheduleItem,
    CommitSpecifierInput,
    CommitSpendTrackerAttributes,
    Credit,
    Override,
    PrepaidBalanceThresholdConfiguration,
    ProfessionalService,
    RecurringCommit,
    RecurringCredit,
    ResellerRoyaltyAwsOptions,
    ResellerRoyaltyGcpOptions,
    SpendThresholdConfiguration,
    SpendTracker,
    Subscription,
)
from tally.kit.api import Id, Num, PaymentTermsDays, Req, Str, Ts


class BillingProviderConfiguration(Req):
    billing_provider: (
        Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace", "stripe", "netsuite"] | None
    ) = None
    billing_provider_configuration_id: Id | None = None
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None


class CommitInvoiceScheduleRecurringSchedule(Req):
    amount_distribution: Literal["DIVIDED", "DIVIDED_ROUNDED", "EACH"]
    ending_before: Ts
    frequency: Literal["MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "ANNUAL"]
    starting_at: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class CommitInvoiceSchedule(Req):
    credit_type_id: Id | None = None
    do_not_invoice: bool | None = None
    recurring_schedule: CommitInvoiceScheduleRecurringSchedule | None = None
    schedule_items: list[CommitInvoiceScheduleScheduleItem] | None = None


class CommitFields(BalanceScopeFields):
    """A contract commit's fields, at create and when a v2 edit adds one (which differ only in their
    invoice schedule)."""

    product_id: Id
    type: Literal["PREPAID", "POSTPAID"]
    access_schedule: CommitAccessSchedule | None = None
    amount: Num | None = None
    custom_fields: dict[Str, Str] | None = None
    priority: Num | None = None
    spend_tracker_attributes: CommitSpendTrackerAttributes | None = None
    temporary_id: Id | None = None


class Commit(CommitFields):
    invoice_schedule: CommitInvoiceSchedule | None = None


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
    net_payment_terms_days: PaymentTermsDays | None = None
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


class CreateCustomerBalanceFields(Req):
    """A customer-level commit's and credit's shared fields (/v1/contracts/customerCommits/create and
    /customerCredits/create)."""

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


class CreateCustomerCommit(CreateCustomerBalanceFields):
    type: Literal["PREPAID", "POSTPAID"]
    invoice_contract_id: Id | None = None
    invoice_schedule: CommitInvoiceSchedule | None = None


class CreateCustomerCredit(CreateCustomerBalanceFields):
    pass
