"""Request models for v2 commit and credit edits (/v2/contracts/commits/edit, /credits/edit).

Generated from api-catalog.json request_fields, then kept by hand. Nested shapes live in schemas_terms."""

from __future__ import annotations

from typing import Literal

from tally.contracts.terms.schemas import (
    CommitHierarchyConfiguration,
    CommitSpecifierInput,
    UpdateCommitAccessSchedule,
    UpdateCommitInvoiceSchedule,
)
from tally.kit.api import Id, Num, Req, Str


class EditBalanceFields(Req):
    """What /v2/contracts/commits/edit and /credits/edit may change alike."""

    customer_id: Id
    access_schedule: UpdateCommitAccessSchedule | None = None
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


class EditCommit(EditBalanceFields):
    commit_id: Id
    invoice_contract_id: Id | None = None
    invoice_schedule: UpdateCommitInvoiceSchedule | None = None


class EditCredit(EditBalanceFields):
    credit_id: Id
