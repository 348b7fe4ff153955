"""Contract endpoints: create, v1/v2 get and list, and the lifecycle calls (thin: parse, one unit of work)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tally.auth.dependencies import CtxDep, JsonBody, json_body
from tally.contracts import schemas as s
from tally.contracts import service, wire, wire_contract
from tally.contracts.balances import thresholds
from tally.contracts.edits import lifecycle
from tally.contracts.edits.schemas import EditContract
from tally.contracts.edits.schemas_balance import EditCommit, EditCredit
from tally.contracts.packages import service as packages
from tally.contracts.schemas_create import AmendContract, CreateContract
from tally.contracts.terms import named_schedules
from tally.contracts.terms import rate_schedule as schedule
from tally.db import uow
from tally.errors import BadRequest
from tally.kit.api import RawBody, parse
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import CursorPage, Data, Empty, IdDoc, JSONResponse, Page, data, empty, ok, page
from tally.rate_cards.schemas import ScheduleSegmentDoc

router = APIRouter()


# The raw body: a package's terms are merged into it before it is validated as CreateContract.
CreateBody = Annotated[Any, Depends(RawBody(CreateContract, json_body))]


@router.post("/v1/contracts/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, body: CreateBody) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        if isinstance(body, dict) and ("package_id" in body or "package_alias" in body):
            body = packages.contract_body(conn, ctx.tenant_id, body)
        req = parse(CreateContract, body)
        contract_id = service.create(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
        thresholds.written(conn, ctx.engine, ctx.tenant_id, contract_id, ctx.now(), req)
    return data({"id": contract_id})


def _flags(req: Any) -> dict[str, Any]:
    return {"include_balance": bool(req.include_balance), "include_ledgers": bool(req.include_ledgers)}


@router.post("/v1/contracts/get", response_model=Data[s.ContractV1Doc])
def retrieve_v1(ctx: CtxDep, req: JsonBody[s.GetContract]) -> JSONResponse:
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        c = service.get(conn, ctx.tenant_id, req.customer_id, req.contract_id)
        names = wire.names_for(conn, ctx.tenant_id, [c], [], now, ledgers=bool(req.include_ledgers))
    return data(wire_contract.v1(c, names, now, _flags(req)))


@router.post("/v2/contracts/get", response_model=Data[s.ContractV2Doc])
def retrieve_v2(ctx: CtxDep, req: JsonBody[s.GetContractV2]) -> JSONResponse:
    if req.as_of_date is not None and req.include_ledgers:
        raise BadRequest("as_of_date cannot be combined with include_ledgers")
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        if req.as_of_date is not None:
            c = service.get_as_of(conn, ctx.tenant_id, req.customer_id, req.contract_id, req.as_of_date)
        else:
            c = service.get(conn, ctx.tenant_id, req.customer_id, req.contract_id)
        at = req.as_of_date or now
        names = wire.names_for(conn, ctx.tenant_id, [c], [], at, ledgers=bool(req.include_ledgers))
    return data(wire_contract.v2(c, names, at, _flags(req)))


def _list(ctx: CtxDep, req: Any, shape: Any) -> JSONResponse:
    n = check_limit(req.limit)
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        found = service.page(
            conn,
            ctx.tenant_id,
            req.customer_id,
            after_id(req.cursor),
            n,
            include_archived=bool(req.include_archived),
            covering=req.covering_date,
            starting_at=req.starting_at,
        )
        items, nxt = cut(found, n, lambda c: c.id)
        names = wire.names_for(conn, ctx.tenant_id, items, [], now, ledgers=bool(req.include_ledgers))
    return ok({"data": [shape(c, names, now, _flags(req)) for c in items], "cursor": nxt})


@router.post("/v1/contracts/list", response_model=CursorPage[s.ContractV1Doc])
def list_v1(ctx: CtxDep, req: JsonBody[s.ListContracts]) -> JSONResponse:
    return _list(ctx, req, wire_contract.v1)


@router.post("/v2/contracts/list", response_model=CursorPage[s.ContractV2Doc])
def list_v2(ctx: CtxDep, req: JsonBody[s.ListContractsV2]) -> JSONResponse:
    return _list(ctx, req, wire_contract.v2)


@router.post("/v1/contracts/amend", response_model=Data[IdDoc])
def amend(ctx: CtxDep, req: JsonBody[AmendContract]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        amendment_id = lifecycle.amend(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return data({"id": amendment_id})


@router.post("/v2/contracts/edit", response_model=Data[IdDoc])
def edit(ctx: CtxDep, req: JsonBody[EditContract]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        edit_id = lifecycle.edit(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
        thresholds.written(conn, ctx.engine, ctx.tenant_id, req.contract_id, ctx.now(), req)
    return data({"id": edit_id})


@router.post("/v2/contracts/commits/edit", response_model=Data[IdDoc])
def edit_commit(ctx: CtxDep, req: JsonBody[EditCommit]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        lifecycle.edit_balance(conn, ctx.tenant_id, req, "commit", ctx.now(), ctx.tenant.name)
    return data({"id": req.commit_id})


@router.post("/v2/contracts/credits/edit", response_model=Data[IdDoc])
def edit_credit(ctx: CtxDep, req: JsonBody[EditCredit]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        lifecycle.edit_balance(conn, ctx.tenant_id, req, "credit", ctx.now(), ctx.tenant.name)
    return data({"id": req.credit_id})


@router.post("/v2/contracts/getEditHistory", response_model=Data[list[s.EditHistoryDoc]])
def edit_history(ctx: CtxDep, req: JsonBody[s.GetEditHistory]) -> JSONResponse:
    now = ctx.now()
    with uow.read(ctx.engine) as conn:
        c = service.get(conn, ctx.tenant_id, req.customer_id, req.contract_id)
        names = wire.names_for(conn, ctx.tenant_id, [c], [], now, ledgers=False)
    return data(lifecycle.history_wire(c, names))


@router.post("/v1/contracts/updateEndDate", response_model=Data[IdDoc])
def update_end_date(ctx: CtxDep, req: JsonBody[s.UpdateEndDate]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        lifecycle.update_end_date(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return data({"id": req.contract_id})


@router.post("/v1/contracts/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ArchiveContract]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        lifecycle.archive(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return data({"id": req.contract_id})


@router.post("/v1/contracts/setUsageFilter", response_model=Empty)
def set_usage_filter(ctx: CtxDep, req: JsonBody[s.SetUsageFilter]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        lifecycle.set_usage_filter(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return empty()


@router.post("/v1/contracts/getNamedSchedule", response_model=Data[list[ScheduleSegmentDoc]])
def get_contract_schedule(ctx: CtxDep, req: JsonBody[s.GetContractNamedSchedule]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        segments = named_schedules.get_contract_schedule(conn, ctx.tenant_id, req)
    return data([g.to_wire() for g in segments])


@router.post("/v1/contracts/updateNamedSchedule", response_model=Empty)
def update_contract_schedule(ctx: CtxDep, req: JsonBody[s.UpdateContractNamedSchedule]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        named_schedules.update_contract_schedule(conn, ctx.tenant_id, req)
    return empty()


@router.post("/v1/contracts/listNamedSchedules", response_model=Page[s.NamedScheduleListDoc])
def list_contract_schedules(ctx: CtxDep, req: JsonBody[s.ListNamedSchedules]) -> JSONResponse:
    n = check_limit(req.limit)
    with uow.read(ctx.engine) as conn:
        rows = named_schedules.list_contract_schedules(conn, ctx.tenant_id, req, after_id(req.next_page))
    items, nxt = cut(rows[: n + 1], n, lambda r: r[0])
    return page([item for _, item in items], nxt)


@router.post("/v1/customers/getNamedSchedule", response_model=Data[list[ScheduleSegmentDoc]])
def get_customer_schedule(ctx: CtxDep, req: JsonBody[s.GetCustomerNamedSchedule]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        segments = named_schedules.get_customer_schedule(conn, ctx.tenant_id, req)
    return data([g.to_wire() for g in segments])


@router.post("/v1/customers/updateNamedSchedule", response_model=Empty)
def update_customer_schedule(ctx: CtxDep, req: JsonBody[s.UpdateCustomerNamedSchedule]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        named_schedules.update_customer_schedule(conn, ctx.tenant_id, req)
    return empty()


@router.post("/v1/contracts/getContractRateSchedule", response_model=Page[s.ContractRateDoc])
def rate_schedule(
    ctx: CtxDep,
    req: JsonBody[schedule.GetContractRateSchedule],
    limit: str | None = None,
    next_page: str | None = None,
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        items, nxt = schedule.rate_schedule(conn, ctx.tenant_id, req, req.at or ctx.now(), next_page, n)
    return page(items, nxt)
