"""Named schedules on contracts and customers: time-segmented values looked up by name (e.g. a
per-customer discount fraction). Segment splicing is the rate-card domain's (`rate_cards.service`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tally.contracts import repository as repo
from tally.contracts import schemas as s
from tally.contracts.service import get as get_contract
from tally.customers import service as customers
from tally.errors import BadRequest
from tally.rate_cards.service import Segment, named_schedule, update_named_schedule

CONTRACT = "contract"
CUSTOMER = "customer"


def _no_properties(properties: dict[str, str] | None) -> None:
    if properties:
        raise BadRequest("properties: property-scoped named schedules are not supported by tally yet")


def get_contract_schedule(conn: Connection, tenant_id: str, req: s.GetContractNamedSchedule) -> list[Segment]:
    _no_properties(req.properties)
    get_contract(conn, tenant_id, req.customer_id, req.contract_id)
    return named_schedule(conn, tenant_id, CONTRACT, req.contract_id, req.schedule_name, req.covering_date)


def update_contract_schedule(conn: Connection, tenant_id: str, req: s.UpdateContractNamedSchedule) -> None:
    _no_properties(req.properties)
    get_contract(conn, tenant_id, req.customer_id, req.contract_id, lock=True)
    update_named_schedule(
        conn,
        tenant_id,
        CONTRACT,
        req.contract_id,
        req.schedule_name,
        Segment(req.starting_at, req.ending_before, req.value),
    )


def get_customer_schedule(conn: Connection, tenant_id: str, req: s.GetCustomerNamedSchedule) -> list[Segment]:
    customers.get(conn, tenant_id, req.customer_id)
    return named_schedule(conn, tenant_id, CUSTOMER, req.customer_id, req.schedule_name, req.covering_date)


def update_customer_schedule(conn: Connection, tenant_id: str, req: s.UpdateCustomerNamedSchedule) -> None:
    customers.get(conn, tenant_id, req.customer_id)
    update_named_schedule(
        conn,
        tenant_id,
        CUSTOMER,
        req.customer_id,
        req.schedule_name,
        Segment(req.starting_at, req.ending_before, req.value),
    )


def list_contract_schedules(
    conn: Connection, tenant_id: str, req: s.ListNamedSchedules, after: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """(row id, wire item) for each schedule on the customer's contracts (or the one contract given)."""
    _no_properties(req.properties)
    customers.get(conn, tenant_id, req.customer_id)
    if req.contract_id is not None:
        owners = [get_contract(conn, tenant_id, req.customer_id, req.contract_id).id]
    else:
        owners = repo.contract_ids_of_customer(conn, tenant_id, req.customer_id)
    out = []
    for row in repo.schedules_of(conn, tenant_id, CONTRACT, owners, req.schedule_name, after):
        segments = [Segment.of(d) for d in row.segments]
        if req.covering_date is not None:
            segments = [g for g in segments if g.covers(req.covering_date)]
        item = {
            "contract_id": row.owner_id,
            "schedule_name": row.schedule_name,
            "segments": [g.to_wire() for g in segments],
        }
        out.append((row.id, item))
    return out
