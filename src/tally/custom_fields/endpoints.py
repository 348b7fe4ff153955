from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.custom_fields import schemas as s
from tally.custom_fields import service
from tally.db import uow
from tally.kit.pagination import cut, decode_key
from tally.kit.responses import Empty, JSONResponse, Page, empty, page

router = APIRouter(prefix="/v1/customFields")


@router.post("/addKey", response_model=Empty)
def add_key(ctx: CtxDep, req: JsonBody[s.AddKey]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.add_key(conn, ctx.tenant_id, req.entity, req.key, req.enforce_uniqueness, ctx.now())
    return empty()


@router.post("/removeKey", response_model=Empty)
def remove_key(ctx: CtxDep, req: JsonBody[s.RemoveKey]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.remove_key(conn, ctx.tenant_id, req.entity, req.key)
    return empty()


@router.post("/listKeys", response_model=Page[s.CustomFieldKeyDoc])
def list_keys(ctx: CtxDep, req: JsonBody[s.ListKeys], next_page: str | None = None) -> JSONResponse:
    cursor = decode_key(next_page, str, str)
    with uow.read(ctx.engine) as conn:
        rows = service.list_keys(
            conn, ctx.tenant_id, req.entities, (cursor[0], cursor[1]) if cursor else None, 100
        )
    items, nxt = cut(rows, 100, lambda r: [r["entity"], r["key"]])
    return page(items, nxt)


@router.post("/setValues", response_model=Empty)
def set_values(ctx: CtxDep, req: JsonBody[s.SetValues]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.ensure_entity_exists(conn, ctx.tenant_id, req.entity, req.entity_id)
        service.set_values(conn, ctx.tenant_id, req.entity, req.entity_id, req.custom_fields)
    return empty()


@router.post("/deleteValues", response_model=Empty)
def delete_values(ctx: CtxDep, req: JsonBody[s.DeleteValues]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.ensure_entity_exists(conn, ctx.tenant_id, req.entity, req.entity_id)
        service.delete_values(conn, ctx.tenant_id, req.entity, req.entity_id, req.keys)
    return empty()
