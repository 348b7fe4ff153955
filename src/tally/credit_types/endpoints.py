from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.credit_types import schemas as s
from tally.credit_types import service
from tally.db import uow
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import Data, IdDoc, JSONResponse, Page, data, page

router = APIRouter(prefix="/v1/credit-types")


@router.post("/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreatePricingUnit]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        credit_type_id = service.create(conn, ctx.tenant_id, req.name, ctx.now())
    return data({"id": credit_type_id})


@router.get("/list", response_model=Page[s.CreditTypeDoc])
def list_units(ctx: CtxDep, limit: str | None = None, next_page: str | None = None) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        rows = service.page(conn, ctx.tenant_id, after_id(next_page), n)
    items, nxt = cut(rows, n, lambda ct: ct.id)
    return page([service.to_wire(ct) for ct in items], nxt)


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ArchivePricingUnit]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})
