from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.billable_metrics import schemas as s
from tally.billable_metrics import service
from tally.custom_fields import service as custom_fields
from tally.db import uow
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import Data, IdDoc, JSONResponse, Page, data, page

router = APIRouter(prefix="/v1/billable-metrics")


@router.post("/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreateMetric]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        metric_id = service.create(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": metric_id})


@router.get("", response_model=Page[s.MetricDoc])
def list_metrics(
    ctx: CtxDep, limit: str | None = None, next_page: str | None = None, include_archived: bool = False
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        rows = service.page(conn, ctx.tenant_id, after_id(next_page), n, include_archived)
        items, nxt = cut(rows, n, lambda m: m.id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [m.id for m in items])
    return page([service.to_wire(m, custom[m.id]) for m in items], nxt)


@router.get("/{billable_metric_id}", response_model=Data[s.MetricDoc])
def retrieve(ctx: CtxDep, billable_metric_id: str) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        metric = service.get(conn, ctx.tenant_id, billable_metric_id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [metric.id])
    return data(service.to_wire(metric, custom[metric.id]))


@router.put("/{billable_metric_id}", response_model=Data[IdDoc])
def update(ctx: CtxDep, billable_metric_id: str, req: JsonBody[s.UpdateMetric]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.rename(conn, ctx.tenant_id, billable_metric_id, req.name)
    return data({"id": billable_metric_id})


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ArchiveMetric]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})
