from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tally.kit.api import BillingProviderName, Id, NonEmptyStr, Req, Str

Provider = BillingProviderName
DeliveryMethod = Literal["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"]


class StripeConnection(Req):
    """tally's own route: the tenant's Stripe account."""

    secret_key: NonEmptyStr = Field(max_length=512)
    # Stripe's signing secret of the webhook endpoint that points at tally (whsec_...).
    webhook_secret: NonEmptyStr | None = Field(default=None, max_length=512)
    account_id: NonEmptyStr | None = Field(default=None, max_length=255)
    api_base: NonEmptyStr | None = Field(default=None, max_length=2048)


class DeleteConnection(Req):
    """No fields: reading or disconnecting the connection takes an empty body."""


class CreateBillingProvider(Req):
    billing_provider: Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace"]
    configuration: dict[NonEmptyStr, Any]
    delivery_method: Literal["direct_to_billing_provider", "aws_sqs", "aws_sns"]


class ListBillingProviders(Req):
    next_page: Str | None = None


class SetConfiguration(Req):
    billing_provider: Provider
    customer_id: Id
    configuration: dict[NonEmptyStr, Any] | None = None
    delivery_method: DeliveryMethod | None = None
    delivery_method_id: Id | None = None
    tax_provider: Literal["anrok", "avalara", "stripe"] | None = None


class SetConfigurations(Req):
    data: list[SetConfiguration] = Field(min_length=1, max_length=100)


class RetrieveConfigurations(Req):
    customer_id: Id
    include_archived: bool | None = None


class ArchiveConfigurations(Req):
    customer_id: Id
    customer_billing_provider_configuration_ids: list[Id] = Field(max_length=100)


class RetrySync(Req):
    invoice_id: Id
