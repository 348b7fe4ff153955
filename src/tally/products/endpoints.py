from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.custom_fields import service as custom_fields
from tally.db import uow
from tally.kit.pagination import after_id, check_limit, cut
from tally.kit.responses import Data, IdDoc, JSONResponse, Page, data, page
from tally.products import schemas as s
from tally.products import service

router = APIRouter(prefix="/v1/contract-pricing/products")


@router.post("/create", response_model=Data[IdDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreateProduct]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        product_id = service.create(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return data({"id": product_id})


@router.post("/get", response_model=Data[s.ProductDoc])
def retrieve(ctx: CtxDep, req: JsonBody[s.GetProduct]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        product = service.get(conn, ctx.tenant_id, req.id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [product.id])
    return data(service.to_wire(product, custom[product.id], ctx.now()))


@router.post("/list", response_model=Page[s.ProductDoc])
def list_products(
    ctx: CtxDep, req: JsonBody[s.ListProducts], limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    n = check_limit(limit)
    with uow.read(ctx.engine) as conn:
        rows = service.page(conn, ctx.tenant_id, after_id(next_page), n, req.archive_filter or "NOT_ARCHIVED")
        items, nxt = cut(rows, n, lambda p: p.id)
        custom = custom_fields.values_for(conn, ctx.tenant_id, service.ENTITY, [p.id for p in items])
    now = ctx.now()
    return page([service.to_wire(p, custom[p.id], now) for p in items], nxt)


@router.post("/update", response_model=Data[IdDoc])
def update(ctx: CtxDep, req: JsonBody[s.UpdateProduct]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.update(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return data({"id": req.product_id})


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.ArchiveProduct]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.product_id, ctx.now())
    return data({"id": req.product_id})
