from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.billable_metrics import schemas as s
from tally.billable_metrics import service
from tally.custom_fields import service as custom_fields
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import JSONResponse, data, page

router = APIRouter(prefix="/v1/billable-metrics")


@router.post("/create")
def create(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.CreateMetric, body)
    with uow.write(ctx.engine) as conn:
        metric_id = service.create(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": metric_id})


@router.get("")
def list_metrics(
    ctx: CtxDep, limit: str | None = None, next_page: str | None = None, include_archived: bool = False
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        rows = service.page(conn, ctx.tenant_id, after_id(next_page), n, include_archived)
        items, nxt = cut(rows, n, lambda m: m.id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [m.id for m in items])
    return page([service.to_wire(m, custom[m.id]) for m in items], nxt)


@router.get("/{billable_metric_id}")
def retrieve(ctx: CtxDep, billable_metric_id: str) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        metric = service.get(conn, ctx.tenant_id, billable_metric_id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [metric.id])
    return data(service.to_wire(metric, custom[metric.id]))


@router.put("/{billable_metric_id}")
def update(ctx: CtxDep, billable_metric_id: str, body: BodyDep) -> JSONResponse:
    req = parse(s.UpdateMetric, body)
    with uow.write(ctx.engine) as conn:
        service.rename(conn, ctx.tenant_id, billable_metric_id, req.name)
    return data({"id": billable_metric_id})


@router.post("/archive")
def archive(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.ArchiveMetric, body)
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})
