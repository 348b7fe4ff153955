from __future__ import annotations

from fastapi import APIRouter

from tally.alerts import schemas as s
from tally.alerts import service
from tally.auth.dependencies import BodyDep, CtxDep
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import after_id
from tally.kit.responses import JSONResponse, data, empty, page

router = APIRouter(prefix="/v1")


@router.post("/alerts/create")
def create(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.CreateAlert, body)
    with uow.write(ctx.engine) as conn:
        alert_id = service.create(conn, ctx.tenant_id, req, ctx.now())
    return data({"id": alert_id})


@router.post("/alerts/archive")
def archive(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.ArchiveAlert, body)
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, bool(req.release_uniqueness_key), ctx.now())
    return data({"id": req.id})


@router.post("/customer-alerts/list")
def list_customer_alerts(ctx: CtxDep, body: BodyDep, next_page: str | None = None) -> JSONResponse:
    req = parse(s.ListCustomerAlerts, body)
    after = after_id(next_page)
    with uow.read(ctx.engine) as conn:
        items, nxt = service.list_for_customer(
            conn, ctx.tenant_id, req.customer_id, req.alert_statuses, after
        )
    return page(items, nxt)


@router.post("/customer-alerts/get")
def get_customer_alert(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.GetCustomerAlert, body)
    with uow.read(ctx.engine) as conn:
        found = service.get_for_customer(conn, ctx.tenant_id, req)
    return data(found)


@router.post("/customer-alerts/reset")
def reset(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.ResetCustomerAlert, body)
    with uow.write(ctx.engine) as conn:
        service.reset(conn, ctx.tenant_id, req.alert_id, req.customer_id, ctx.now())
    return empty()
