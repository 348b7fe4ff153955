from __future__ import annotations

from fastapi import APIRouter

from tally.auth.dependencies import BodyDep, CtxDep
from tally.db import uow
from tally.kit.api import parse
from tally.kit.pagination import check_limit
from tally.kit.responses import JSONResponse, ok, page
from tally.usage import schemas as s
from tally.usage import service

router = APIRouter(prefix="/v1")


@router.post("/usage")
def list_usage(ctx: CtxDep, body: BodyDep, next_page: str | None = None) -> JSONResponse:
    req = parse(s.ListUsage, body)
    with uow.read(ctx.engine) as conn:
        items, nxt = service.list_usage(conn, ctx.tenant_id, req, next_page)
    return page(items, nxt)


@router.post("/usage/groups")
def list_usage_groups(
    ctx: CtxDep, body: BodyDep, limit: str | None = None, next_page: str | None = None
) -> JSONResponse:
    n = check_limit(limit, default=100, maximum=100)
    req = parse(s.ListUsageWithGroups, body)
    with uow.read(ctx.engine) as conn:
        items, nxt = service.list_groups(conn, ctx.tenant_id, req, next_page, n)
    return page(items, nxt)


@router.post("/events/search")
def search_events(ctx: CtxDep, body: BodyDep) -> JSONResponse:
    req = parse(s.SearchEvents, body)
    with uow.read(ctx.engine) as conn:
        found = service.search(conn, ctx.tenant_id, req)
    return ok(found)
