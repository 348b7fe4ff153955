"""Request models for `/v1/alerts/*` and `/v1/customer-alerts/*` (field names as the SDK sends them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tally.kit.api import Id, NonEmptyStr, Num, Req, Str
from tally.kit.responses import Doc

AlertType = Literal[
    "low_credit_balance_reached",
    "spend_threshold_reached",
    "monthly_invoice_total_spend_threshold_reached",
    "low_remaining_days_in_plan_reached",
    "low_remaining_credit_percentage_reached",
    "usage_threshold_reached",
    "low_remaining_days_for_commit_segment_reached",
    "low_remaining_commit_balance_reached",
    "low_remaining_commit_percentage_reached",
    "low_remaining_days_for_contract_credit_segment_reached",
    "low_remaining_contract_credit_balance_reached",
    "low_remaining_contract_credit_percentage_reached",
    "low_remaining_contract_credit_and_commit_balance_reached",
    "low_remaining_contract_credit_and_commit_percentage_reached",
    "invoice_total_reached",
    "low_remaining_seat_balance_reached",
]
Entity = Literal["Contract", "Commit", "ContractCredit", "ContractCreditOrCommit"]


class CustomFieldFilter(Req):
    entity: Entity
    key: NonEmptyStr
    value: Str


class SpecifierFilter(Req):
    entity: Entity
    key: NonEmptyStr
    value: Str | None = None


class SpecifierExclude(Req):
    custom_field_filters: list[CustomFieldFilter] | None = Field(default=None, max_length=50)


class AlertSpecifier(Req):
    custom_field_filters: list[SpecifierFilter] | None = Field(default=None, max_length=50)
    exclude: list[SpecifierExclude] | None = Field(default=None, max_length=50)


class GroupValue(Req):
    key: NonEmptyStr
    value: Str | None = None


class SeatFilter(Req):
    seat_group_key: NonEmptyStr
    seat_group_value: Str | None = None


class CreateAlert(Req):
    alert_type: AlertType
    name: NonEmptyStr
    threshold: Num
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    alert_specifiers: list[AlertSpecifier] | None = Field(default=None, max_length=50)
    billable_metric_id: Id | None = None
    credit_grant_type_filters: list[NonEmptyStr] | None = Field(default=None, max_length=50)
    credit_type_id: Id | None = None
    custom_field_filters: list[CustomFieldFilter] | None = Field(default=None, max_length=50)
    customer_id: Id | None = None
    evaluate_on_create: bool | None = None
    group_values: list[GroupValue] | None = Field(default=None, max_length=3)
    invoice_types_filter: list[NonEmptyStr] | None = Field(default=None, max_length=10)
    plan_id: Id | None = None
    seat_filter: SeatFilter | None = None
    uniqueness_key: Id | None = None


class ArchiveAlert(Req):
    id: Id
    release_uniqueness_key: bool | None = None


class ListCustomerAlerts(Req):
    customer_id: Id
    alert_statuses: list[Literal["ENABLED", "DISABLED", "ARCHIVED"]] | None = Field(
        default=None, max_length=3
    )


class GetGroupValue(Req):
    key: NonEmptyStr
    value: Str


class GetSeatFilter(Req):
    seat_group_key: NonEmptyStr
    seat_group_value: Str


class GetCustomerAlert(Req):
    alert_id: Id
    customer_id: Id
    alert_specifiers: list[AlertSpecifier] | None = Field(default=None, max_length=50)
    group_values: list[GetGroupValue] | None = Field(default=None, max_length=3)
    plans_or_contracts: Literal["PLANS", "CONTRACTS"] | None = None
    seat_filter: GetSeatFilter | None = None


class ResetCustomerAlert(Req):
    alert_id: Id
    customer_id: Id


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class CustomerAlertDoc(Doc):
    alert: dict[str, Any]
