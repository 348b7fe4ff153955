"""Request models for contract reads, lifecycle calls, balances and named schedules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tally.kit.api import Id, Num, Req, Str, Ts
from tally.kit.responses import Doc, WireNum, WireTs


class GetContract(Req):
    contract_id: Id
    customer_id: Id
    include_balance: bool | None = None
    include_ledgers: bool | None = None


class ListContracts(Req):
    customer_id: Id
    covering_date: Ts | None = None
    cursor: Str | None = None
    include_archived: bool | None = None
    include_balance: bool | None = None
    include_ledgers: bool | None = None
    limit: int | None = None
    starting_at: Ts | None = None


class GetContractV2(Req):
    contract_id: Id
    customer_id: Id
    as_of_date: Ts | None = None
    include_balance: bool | None = None
    include_ledgers: bool | None = None


class ListContractsV2(Req):
    customer_id: Id
    covering_date: Ts | None = None
    cursor: Str | None = None
    include_archived: bool | None = None
    include_balance: bool | None = None
    include_ledgers: bool | None = None
    limit: Num | None = None
    starting_at: Ts | None = None


class GetEditHistory(Req):
    contract_id: Id
    customer_id: Id


class UpdateEndDate(Req):
    contract_id: Id
    customer_id: Id
    allow_ending_before_finalized_invoice: bool | None = None
    ending_before: Ts | None = None


class ArchiveContract(Req):
    contract_id: Id
    customer_id: Id
    void_invoices: bool


class SetUsageFilter(Req):
    contract_id: Id
    customer_id: Id
    group_key: Str
    group_values: list[Str]
    starting_at: Ts


class ListCustomerCommits(Req):
    customer_id: Id
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    commit_id: Id | None = None
    covering_date: Ts | None = None
    effective_before: Ts | None = None
    include_archived: bool | None = None
    include_balance: bool | None = None
    include_contract_commits: bool | None = None
    include_ledgers: bool | None = None
    limit: int | None = None
    next_page: Str | None = None
    starting_at: Ts | None = None


class UpdateCommitEndDate(Req):
    commit_id: Id
    customer_id: Id
    access_ending_before: Ts | None = None
    invoices_ending_before: Ts | None = None


class ListCustomerCredits(Req):
    customer_id: Id
    covering_date: Ts | None = None
    credit_id: Id | None = None
    effective_before: Ts | None = None
    include_archived: bool | None = None
    include_balance: bool | None = None
    include_contract_credits: bool | None = None
    include_ledgers: bool | None = None
    limit: int | None = None
    next_page: Str | None = None
    starting_at: Ts | None = None


class UpdateCreditEndDate(Req):
    access_ending_before: Ts
    credit_id: Id
    customer_id: Id


class AddManualBalanceEntry(Req):
    id: Id
    amount: Num
    customer_id: Id
    reason: Str
    segment_id: Id
    contract_id: Id | None = None
    per_group_amounts: dict[Str, Num] | None = None
    timestamp: Ts | None = None
    uniqueness_key: Str | None = None


class ListBalances(Req):
    customer_id: Id
    id: Id | None = None
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    covering_date: Ts | None = None
    effective_before: Ts | None = None
    exclude_zero_balances: bool | None = None
    include_archived: bool | None = None
    include_balance: bool | None = None
    include_contract_balances: bool | None = None
    include_ledgers: bool | None = None
    limit: int | None = None
    next_page: Str | None = None
    starting_at: Ts | None = None


class BalanceFilter(Req):
    balance_types: list[Literal["PREPAID_COMMIT", "POSTPAID_COMMIT", "CREDIT"]] | None = None
    custom_fields: dict[Str, Str] | None = None
    ids: list[Str] | None = None


class GetNetBalance(Req):
    customer_id: Id
    access_type: Literal["SPEND", "QUANTITY"] | None = None
    credit_type_id: Id | None = None
    filters: list[BalanceFilter] | None = None
    invoice_inclusion_mode: Literal["FINALIZED", "FINALIZED_AND_DRAFT"] | None = None


class ListNamedSchedules(Req):
    customer_id: Id
    contract_id: Id | None = None
    covering_date: Ts | None = None
    limit: int | None = None
    next_page: Str | None = None
    properties: dict[Str, Str] | None = None
    schedule_name: Str | None = None


class GetContractNamedSchedule(Req):
    contract_id: Id
    customer_id: Id
    schedule_name: Str
    covering_date: Ts | None = None
    properties: dict[Str, Str] | None = None


class UpdateContractNamedSchedule(Req):
    contract_id: Id
    customer_id: Id
    schedule_name: Str
    starting_at: Ts
    value: Any
    ending_before: Ts | None = None
    properties: dict[Str, Str] | None = None


class GetCustomerNamedSchedule(Req):
    customer_id: Id
    schedule_name: Str
    covering_date: Ts | None = None


class UpdateCustomerNamedSchedule(Req):
    customer_id: Id
    schedule_name: Str
    starting_at: Ts
    value: Any
    ending_before: Ts | None = None


# ---- Response shapes (documented in /openapi.json; see tally.kit.responses) ----
class ContractV1Doc(Doc):
    id: str
    customer_id: str
    initial: dict[str, Any]
    current: dict[str, Any]
    amendments: list[Any]


class ContractV2Doc(Doc):
    id: str
    customer_id: str
    created_at: WireTs
    created_by: str
    starting_at: WireTs
    commits: list[Any]
    overrides: list[Any]
    scheduled_charges: list[Any]
    transitions: list[Any]
    usage_statement_schedule: dict[str, Any]


class EditHistoryDoc(Doc):
    id: str


class NamedScheduleListDoc(Doc):
    contract_id: str
    schedule_name: str
    segments: list[Any]


class ContractRateDoc(Doc):
    rate_card_id: str
    product_id: str
    product_name: str
    product_tags: list[str]
    product_custom_fields: dict[str, str]
    entitled: bool
    list_rate: dict[str, Any]
    starting_at: WireTs


class BalanceDoc(Doc):
    """A commit or credit (customer- or contract-level) as the balance lists return it."""

    id: str
    type: str
    product: dict[str, Any]


class NetBalanceDoc(Doc):
    balance: WireNum
    credit_type_id: str


class SeatsHistoryDoc(Doc):
    starting_at: WireTs
    assigned_seat_ids: list[str]
    total_quantity: WireNum


class SeatBalanceDoc(Doc):
    seat_id: str
    balances: list[Any]


class SeatPaginationDoc(Doc):
    seats_included: WireNum
    seats_available_for_next_page: WireNum


class SeatBalancesDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: list[SeatBalanceDoc]
    pagination: SeatPaginationDoc
