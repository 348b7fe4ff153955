"""Granting a threshold commit: the PREPAID commit document a `Plan` describes, with one invoice-schedule
item (a SCHEDULED commit-purchase invoice), its invoice date, and storing it with the contract's
balances."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.contracts import service as contracts
from tally.contracts.balances import service as contract_balances
from tally.contracts.terms import model
from tally.invoices import repository as invoices_repo
from tally.invoices import service
from tally.invoices.inputs import Loader
from tally.invoices.thresholds.decide import Plan
from tally.models.invoices import InvoiceKind
from tally.money.context import div
from tally.rating.inputs import AccessType, BalanceRateType, CommitType

DEFAULT_PRIORITY = Decimal(100)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Grant:
    source: model.ThresholdSource
    commit_id: str
    amount: Decimal
    invoiced: Decimal


def grant(
    conn: Connection,
    loader: Loader,
    contract_row: Row[Any],
    cfg: model.ThresholdConfiguration,
    plan: Plan,
    now: datetime,
    at: datetime,
) -> Grant:
    """Store the commit `plan` describes, with one invoice-schedule item at `at`."""
    earlier = [
        b
        for b in contract_balances.of_contract(conn, contract_row.tenant_id, contract_row.id)
        if (tb := b.parsed.threshold_billing) is not None and tb.source == plan.source
    ]
    cid = commit_id(contract_row.id, plan.source, len(earlier))
    invoice = service.invoice_id(
        contract_row.tenant_id, service.Key(contract_row.id, InvoiceKind.SCHEDULED, at, at), 0
    )
    name = cfg.commit.name or _product_name(loader, cfg.commit.product_id, now)
    doc = commit_doc(cfg, plan, cid, name, invoice, now, at)
    contracts.insert_balance(
        conn, contract_row.tenant_id, contract_row.customer_id, contract_row.id, doc, None, now
    )
    return Grant(plan.source, cid, plan.amount, plan.invoiced)


def commit_id(contract_id: str, source: model.ThresholdSource, earlier: int) -> str:
    """The id of a contract's next threshold commit from `source`, after `earlier` ones: a duplicate
    grant collides on the primary key instead of granting twice."""
    return str(uuid.uuid5(uuid.UUID(contract_id), f"threshold:{source}:{earlier}"))


def commit_doc(
    cfg: model.ThresholdConfiguration,
    plan: Plan,
    commit_id: str,
    name: str | None,
    invoice_id: str,
    now: datetime,
    at: datetime,
) -> dict[str, Any]:
    """The stored PREPAID commit: `plan`'s amount usable over its access period, invoiced once at `at`
    (on invoice `invoice_id`), from the configured commit's product, name, priority and description."""
    commit = cfg.commit
    doc: dict[str, Any] = {
        "id": commit_id,
        "type": CommitType.PREPAID,
        "product_id": commit.product_id,
        "name": name,
        "priority": DEFAULT_PRIORITY if commit.priority is None else commit.priority,
        "rate_type": BalanceRateType.LIST_RATE,
        **plan.terms,
        "access_schedule": {
            "access_type": AccessType.SPEND,
            "credit_type_id": plan.credit_type_id,
            "schedule_items": [
                {
                    "id": str(uuid.uuid5(uuid.UUID(commit_id), "segment")),
                    "amount": plan.amount,
                    "starting_at": plan.access.starting_at,
                    "ending_before": plan.access.ending_before,
                }
            ],
        },
        "invoice_schedule": {
            "credit_type_id": plan.fiat.id,
            "schedule_items": [
                {
                    "id": str(uuid.uuid5(uuid.UUID(commit_id), "invoice")),
                    "timestamp": at,
                    "amount": plan.invoiced,
                    "unit_price": plan.invoiced,
                    "quantity": Decimal(1),
                    "invoice_id": invoice_id,
                }
            ],
        },
        "cost_basis": div(plan.invoiced, plan.amount),
        "created_at": now,
        "threshold_billing": {"source": plan.source, **plan.extra},
    }
    if commit.description:
        doc["description"] = commit.description
    if cfg.discount_configuration is not None:
        doc["spend_tracker_attributes"] = {"counts_as_discounted": plan.fraction < 1}
    return doc


def invoice_time(conn: Connection, contract_row: Row[Any], terms: model.Terms, now: datetime) -> datetime:
    """When the threshold invoice is dated: now (whole seconds), moved on by a second while that date
    already has a SCHEDULED invoice (an issued invoice never takes new lines; only a frozen test clock can
    evaluate twice in one second) or would be consolidated onto a usage invoice."""
    at = now.replace(microsecond=0)
    consolidated = terms.scheduled_charges_on_usage_invoices == "ALL"
    boundaries = {p.starting_at for p in service.usage_periods(contract_row, now + timedelta(days=1))}
    for _ in range(3600):
        taken = invoices_repo.rows_of_key(
            conn, contract_row.tenant_id, contract_row.id, InvoiceKind.SCHEDULED, at, at
        )
        if not taken and not (consolidated and at in boundaries):
            return at
        at += _SECOND
    return at


def _product_name(loader: Loader, product_id: str, now: datetime) -> str | None:
    versions = loader.versions(product_id) or []
    name = None
    for start, view in versions:
        if start <= now or name is None:
            name = view.name
    return name
