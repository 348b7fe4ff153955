"""Invoices issued by a request: professional services and historical imports (thin: parse, one unit
of work, the issued invoices back)."""

from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.db import uow
from tally.invoices import historical, pro_services
from tally.kit.api import parse
from tally.kit.responses import JSONResponse, data

router = APIRouter()


@router.post("/v1/contracts/scheduleProServicesInvoice")
def schedule_pro_services_invoice(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(pro_services.ScheduleProServicesInvoice, body)
    with uow.write(ctx.engine) as conn:
        doc = pro_services.issue(conn, ctx.tenant_id, req, ctx.now())
    return data([doc])


@router.post("/v1/contracts/createHistoricalInvoices")
def create_historical_invoices(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(historical.CreateHistoricalInvoices, body)
    with uow.write(ctx.engine) as conn:
        docs = historical.create(conn, ctx.tenant_id, req, ctx.now())
    return data(docs)
