from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from tally.kit.api import BillingProviderName, Id, NonEmptyStr, Req, Str
from tally.kit.responses import Doc, WireTs

Alias = Id  # 1-255 characters, no NUL: an ingest alias fits the events.customer_id column


@dataclass(frozen=True)
class Filter:
    """Which customers a page lists: live ones (archived ones with `only_archived`), narrowed to these ids,
    the owner of an ingest alias, or these Salesforce account ids when given."""

    only_archived: bool = False
    ids: list[str] | None = None
    alias: str | None = None
    salesforce_ids: list[str] | None = None


class CustomerConfig(Req):
    salesforce_account_id: Str | None = None


class BillingConfig(Req):
    billing_provider_customer_id: NonEmptyStr
    billing_provider_type: BillingProviderName
    aws_customer_account_id: Str | None = None
    aws_customer_id: Str | None = None
    aws_is_subscription_product: bool | None = None
    aws_product_code: Str | None = None
    aws_region: Str | None = None
    stripe_collection_method: Literal["charge_automatically", "send_invoice"] | None = None


class BillingProviderConfiguration(Req):
    billing_provider: Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace", "stripe", "netsuite"]
    configuration: dict[NonEmptyStr, Any] | None = None
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"] | None = None
    delivery_method_id: NonEmptyStr | None = None
    tax_provider: Literal["anrok", "avalara", "stripe"] | None = None


class RevenueSystemConfiguration(Req):
    provider: Literal["netsuite"]
    configuration: dict[NonEmptyStr, Any] | None = None
    delivery_method: Literal["direct_to_billing_provider"] | None = None
    delivery_method_id: NonEmptyStr | None = None


class CreateCustomer(Req):
    name: NonEmptyStr
    external_id: Alias | None = None
    ingest_aliases: list[Alias] | None = Field(default=None, max_length=100)
    custom_fields: dict[NonEmptyStr, Str] | None = None
    # tally extension: set the config at creation instead of a follow-up updateConfig.
    customer_config: CustomerConfig | None = None
    # Billing-provider configuration is stored as sent; tally does not deliver invoices to providers yet.
    billing_config: BillingConfig | None = None
    customer_billing_provider_configurations: list[BillingProviderConfiguration] | None = None
    customer_revenue_system_configurations: list[RevenueSystemConfiguration] | None = None


class ArchiveCustomer(Req):
    id: NonEmptyStr


class SetName(Req):
    name: NonEmptyStr


class SetIngestAliases(Req):
    ingest_aliases: list[Alias] = Field(max_length=100)


class UpdateConfig(Req):
    leave_stripe_invoices_in_draft: bool | None = None
    salesforce_account_id: Str | None = None


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class CustomerSummaryDoc(Doc):
    id: str
    external_id: str
    ingest_aliases: list[str]
    name: str
    custom_fields: dict[str, str]


class CustomerDoc(CustomerSummaryDoc):
    created_at: WireTs
    updated_at: WireTs
    customer_config: dict[str, Any]
