"""`v2.notifications.*` (thin: parse, one unit of work; rules in tally.notifications.service)."""

from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.db import uow
from tally.kit.responses import CursorPage, Data, JSONResponse, data, ok
from tally.notifications import schemas as s
from tally.notifications import service

router = APIRouter(prefix="/v2/notifications")


@router.post("/create", response_model=Data[s.OffsetConfigDoc])
def create(ctx: CtxDep, req: JsonBody[s.CreateOffset]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        doc = service.create(conn, ctx.tenant_id, req, ctx.now(), ctx.tenant.name)
    return data(doc)


@router.post("/get", response_model=Data[s.OffsetConfigDoc])
def retrieve(ctx: CtxDep, req: JsonBody[s.OffsetRef]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        doc = service.wire(service.get_row(conn, ctx.tenant_id, req.id))
    return data(doc)


@router.post("/edit", response_model=Data[s.EditedDoc])
def edit(ctx: CtxDep, req: JsonBody[s.EditNotification]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        if req.id is not None:
            doc = service.edit_offset(conn, ctx.tenant_id, req, ctx.now())
        else:
            doc = service.edit_system(conn, ctx.tenant_id, req, ctx.now())
    return data(doc)


@router.post("/archive", response_model=Data[s.OffsetConfigDoc])
def archive(ctx: CtxDep, req: JsonBody[s.OffsetRef]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        doc = service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data(doc)


@router.post("/offset/list", response_model=CursorPage[s.OffsetConfigDoc])
def list_offsets(ctx: CtxDep, req: JsonBody[s.ListOffsets]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        items, cursor = service.list_offsets(conn, ctx.tenant_id, req.archive_filter, req.limit, req.cursor)
    return ok({"data": items, "cursor": cursor})


@router.post("/system/list", response_model=CursorPage[s.SystemConfigDoc])
def system_list(ctx: CtxDep, _req: JsonBody[s.NoFields]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        items = service.system_list(conn, ctx.tenant_id)
    return ok({"data": items, "cursor": None})
