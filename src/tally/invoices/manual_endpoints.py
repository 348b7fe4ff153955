"""Invoices issued by a request: professional services and historical imports (thin: parse, one unit
of work, the issued invoices back)."""

from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.db import uow
from tally.invoices import historical, pro_services
from tally.invoices import schemas as s
from tally.kit.responses import Data, JSONResponse, data

router = APIRouter()


@router.post("/v1/contracts/scheduleProServicesInvoice", response_model=Data[list[s.InvoiceDoc]])
def schedule_pro_services_invoice(
    ctx: CtxDep, req: JsonBody[pro_services.ScheduleProServicesInvoice]
) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        doc = pro_services.issue(conn, ctx.tenant_id, req, ctx.now())
    return data([doc])


@router.post("/v1/contracts/createHistoricalInvoices", response_model=Data[list[s.InvoiceDoc]])
def create_historical_invoices(
    ctx: CtxDep, req: JsonBody[historical.CreateHistoricalInvoices]
) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        docs = historical.create(conn, ctx.tenant_id, req, ctx.now())
    return data(docs)
