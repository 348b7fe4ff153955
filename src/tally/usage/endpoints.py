from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import CtxDep, JsonBody
from tally.db import uow
from tally.kit.pagination import check_limit
from tally.kit.responses import JSONResponse, Page, ok, page
from tally.usage import schemas as s
from tally.usage import service

router = APIRouter(prefix="/v1")


@router.post("/usage", response_model=Page[s.UsageDoc])
def list_usage(ctx: CtxDep, req: JsonBody[s.ListUsage], next_page: str | None = None) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        items, nxt = service.list_usage(conn, ctx.tenant_id, req, next_page)
    return page(items, nxt)


@router.post("/usage/groups", response_model=Page[s.UsageGroupDoc])
def list_usage_groups(
    ctx: CtxDep, req: JsonBody[s.ListUsageWithGroups], limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    n = check_limit(limit, default=100, maximum=100)
    with uow.read(ctx.engine) as conn:
        items, nxt = service.list_groups(conn, ctx.tenant_id, req, next_page, n)
    return page(items, nxt)


@router.post("/events/search", response_model=s.SearchedEvents)
def search_events(ctx: CtxDep, req: JsonBody[s.SearchEvents]) -> JSONResponse:
    with uow.read(ctx.engine) as conn:
        found = service.search(conn, ctx.tenant_id, req)
    return ok(found)
