from __future__ import annotations

from fastapi import APIRouter

from tally.alerts import schemas as s
from tally.alerts import service
from tally.auth.dependencies import CtxDep, JsonBody
from tally.db import uow
from tally.kit.pagination import after_id
from tally.kit.responses import Data, Empty, IdDoc, JSONResponse, Page, data, empty, page

router = APIRouter(prefix="/v1")


@router.post("/alerts/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreateAlert]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        alert_id = service.create(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": alert_id})


@router.post("/alerts/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ArchiveAlert]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, bool(req.release_uniqueness_key), ctx.now())
    return data({"id": req.id})


@router.post("/customer-alerts/list", response_model=Page[s.CustomerAlertDoc])
def list_customer_alerts(
    ctx: CtxDep, req: JsonBody[s.ListCustomerAlerts], next_page: str | None = None
) -> JSONResponse:
    after = after_id(next_page)
    with uow.read(ctx.engine) as conn:
        items, nxt = service.list_for_customer(
            conn, ctx.tenant_id, req.customer_id, req.alert_statuses, after
        )
    return page(items, nxt)


@router.post("/customer-alerts/get", response_model=Data[s.CustomerAlertDoc])
def get_customer_alert(ctx: CtxDep, req: JsonBody[s.GetCustomerAlert]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        found = service.get_for_customer(conn, ctx.tenant_id, req)
    return data(found)


@router.post("/customer-alerts/reset", response_model=Empty)
def reset(ctx: CtxDep, req: JsonBody[s.ResetCustomerAlert]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.reset(conn, ctx.tenant_id, req.alert_id, req.customer_id, ctx.now())
    return empty()
