"""Request models for v2 commit and credit edits (/v2/contracts/commits/edit, /credits/edit).

Generated from api-catalog.json request_fields, then kept by hand."""

from __future__ import annotations

from typing import Literal

from tally.kit.api import Id, Num, Req, Str, Ts


class AccessScheduleAddScheduleItem(Req):
    amount: Num
    ending_before: Ts
    starting_at: Ts


class AccessScheduleRemoveScheduleItem(Req):
    id: Id


class AccessScheduleUpdateScheduleItem(Req):
    id: Id
    amount: Num | None = None
    ending_before: Ts | None = None
    starting_at: Ts | None = None


class AccessSchedule(Req):
    add_schedule_items: list[AccessScheduleAddScheduleItem] | None = None
    remove_schedule_items: list[AccessScheduleRemoveScheduleItem] | None = None
    update_schedule_items: list[AccessScheduleUpdateScheduleItem] | None = None


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


class InvoiceScheduleAddScheduleItem(Req):
    timestamp: Ts
    amount: Num | None = None
    quantity: Num | None = None
    unit_price: Num | None = None


class InvoiceScheduleUpdateScheduleItem(Req):
    id: Id
    amount: Num | None = None
    quantity: Num | None = None
    timestamp: Ts | None = None
    unit_price: Num | None = None


class InvoiceSchedule(Req):
    add_schedule_items: list[InvoiceScheduleAddScheduleItem] | None = None
    remove_schedule_items: list[AccessScheduleRemoveScheduleItem] | None = None
    update_schedule_items: list[InvoiceScheduleUpdateScheduleItem] | None = None


class CommitSpecifierInput(Req):
    presentation_group_values: dict[Str, Str] | None = None
    pricing_group_values: dict[Str, Str] | None = None
    product_id: Id | None = None
    product_tags: list[Str] | None = None


class EditCommit(Req):
    commit_id: Id
    customer_id: Id
    access_schedule: AccessSchedule | None = None
    applicable_contract_ids: list[Id] | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    invoice_contract_id: Id | None = None
    invoice_schedule: InvoiceSchedule | None = None
    name: Str | None = None
    priority: Num | None = None
    product_id: Id | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None
    specifiers: list[CommitSpecifierInput] | None = None


class EditCredit(Req):
    credit_id: Id
    customer_id: Id
    access_schedule: AccessSchedule | None = None
    applicable_contract_ids: list[Id] | None = None
    applicable_product_ids: list[Id] | None = None
    applicable_product_tags: list[Str] | None = None
    description: Str | None = None
    hierarchy_configuration: CommitHierarchyConfiguration | None = None
    name: Str | None = None
    priority: Num | None = None
    product_id: Id | None = None
    rate_type: Literal["LIST_RATE", "COMMIT_RATE"] | None = None
    specifiers: list[CommitSpecifierInput] | None = None
