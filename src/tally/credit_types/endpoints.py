from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.credit_types import schemas as s
from tally.credit_types import service
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import JSONResponse, data, page

router = APIRouter(prefix="/v1/credit-types")


@router.post("/create")
def create(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.CreatePricingUnit, body)
    with uow.write(ctx.engine) as conn:
        credit_type_id = service.create(conn, ctx.tenant_id, req.name, ctx.now())
    return data({"id": credit_type_id})


@router.get("/list")
def list_units(ctx: CtxDep, limit: str | None = None, next_page: str | None = None) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        rows = service.page(conn, ctx.tenant_id, after_id(next_page), n)
    items, nxt = cut(rows, n, lambda ct: ct.id)
    return page([service.to_wire(ct) for ct in items], nxt)


@router.post("/archive")
def archive(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.ArchivePricingUnit, body)
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})
