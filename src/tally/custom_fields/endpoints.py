from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.custom_fields import schemas as s
from tally.custom_fields import service
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import cut, decode_key
from tally.kit.responses import JSONResponse, empty, page

router = APIRouter(prefix="/v1/customFields")


@router.post("/addKey")
def add_key(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.AddKey, body)
    with uow.write(ctx.engine) as conn:
        service.add_key(conn, ctx.tenant_id, req.entity, req.key, req.enforce_uniqueness, ctx.now())
    return empty()


@router.post("/removeKey")
def remove_key(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.RemoveKey, body)
    with uow.write(ctx.engine) as conn:
        service.remove_key(conn, ctx.tenant_id, req.entity, req.key)
    return empty()


@router.post("/listKeys")
def list_keys(ctx: CtxDep, body: BodyDep, next_page: str | None = None) -> JSONResponse:
    req = parse(s.ListKeys, body)
    cursor = decode_key(next_page, str, str)
    with uow.read(ctx.engine) as conn:
        rows = service.list_keys(
            conn, ctx.tenant_id, req.entities, (cursor[0], cursor[1]) if cursor else None, 100
        )
    items, nxt = cut(rows, 100, lambda r: [r["entity"], r["key"]])
    return page(items, nxt)


@router.post("/setValues")
def set_values(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.SetValues, body)
    with uow.write(ctx.engine) as conn:
        service.ensure_entity_exists(conn, ctx.tenant_id, req.entity, req.entity_id)
        service.set_values(conn, ctx.tenant_id, req.entity, req.entity_id, req.custom_fields)
    return empty()


@router.post("/deleteValues")
def delete_values(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.DeleteValues, body)
    with uow.write(ctx.engine) as conn:
        service.ensure_entity_exists(conn, ctx.tenant_id, req.entity, req.entity_id)
        service.delete_values(conn, ctx.tenant_id, req.entity, req.entity_id, req.keys)
    return empty()
