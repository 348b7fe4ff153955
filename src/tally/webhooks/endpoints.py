"""`/tally/v1/webhooks/*`: register, list, archive and rotate webhook endpoints; list recent events.

webhooks sits below auth in the layer order, so this router cannot import tally.auth. It runs inside
the authenticated router (server/routes.py), whose dependency has already put the request's context on
`request.state.ctx`; the body is read by `kit.api.read_json`, as `auth.dependencies.json_body` reads it,
with smaller limits.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import Engine

from tally.db import uow
from tally.kit.api import body_type, read_json
from tally.kit.pagination import after_id, cut
from tally.kit.pagination import check_limit as default_limit
from tally.kit.responses import Data, IdDoc, JSONResponse, Page, data, page
from tally.settings import Settings
from tally.webhooks import keys, service
from tally.webhooks import schemas as s

router = APIRouter(prefix="/tally/v1/webhooks")

MAX_BODY = 64 * 1024  # these bodies are a URL and a few fields


class _Ctx(Protocol):
    @property
    def tenant_id(self) -> str: ...
    @property
    def engine(self) -> Engine: ...
    def now(self) -> datetime: ...


def _ctx(request: Request) -> _Ctx:
    ctx: _Ctx = request.state.ctx  # set by the authenticated router's dependency
    return ctx


async def _body(request: Request) -> Any:
    return await read_json(request, MAX_BODY, MAX_BODY)


CtxDep = Annotated[_Ctx, Depends(_ctx)]
M = TypeVar("M", bound=BaseModel)

if TYPE_CHECKING:
    JsonBody = Annotated[M, "the request body, validated by M"]
else:
    JsonBody = body_type(_body)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/create", response_model=Data[s.WebhookWithSecretDoc])
def create(request: Request, ctx: CtxDep, req: JsonBody[s.CreateWebhook]) -> JSONResponse:
    settings = _settings(request)
    service.check_url(req.url, allow_private=settings.webhooks_allow_private_urls)
    key = keys.server_key(settings)
    with uow.write(ctx.engine) as conn:
        row, secret = service.create(conn, ctx.tenant_id, req.url, req.description, key, ctx.now())
    return data({**service.to_wire(row, ctx.now()), "secret": secret})


@router.post("/list", response_model=Page[s.WebhookDoc])
def list_webhooks(ctx: CtxDep, req: JsonBody[s.ListWebhooks]) -> JSONResponse:
    n = default_limit(req.limit)
    with uow.read(ctx.engine) as conn:
        rows = service.page(conn, ctx.tenant_id, after_id(req.next_page), n, req.include_archived)
    items, nxt = cut(rows, n, lambda r: r.id)
    now = ctx.now()
    return page([service.to_wire(r, now) for r in items], nxt)


@router.post("/archive", response_model=Data[IdDoc])
def archive(ctx: CtxDep, req: JsonBody[s.WebhookRef]) -> JSONResponse:
    with uow.write(ctx.engine) as conn:
        service.archive(conn, ctx.tenant_id, req.id, ctx.now())
    return data({"id": req.id})


@router.post("/rotateSecret", response_model=Data[s.WebhookWithSecretDoc])
def rotate_secret(request: Request, ctx: CtxDep, req: JsonBody[s.RotateSecret]) -> JSONResponse:
    key = keys.server_key(_settings(request))
    now = ctx.now()
    with uow.write(ctx.engine) as conn:
        row, secret = service.rotate_secret(
            conn, ctx.tenant_id, req.id, req.previous_secret_ttl_hours, key, now
        )
    return data({**service.to_wire(row, now), "secret": secret})


@router.post("/deliveries/retry", response_model=Data[s.RetriedDeliveryDoc])
def retry_delivery(ctx: CtxDep, req: JsonBody[s.DeliveryRef]) -> JSONResponse:
    """Send a failed delivery again (pending, due now, with a fresh retry schedule)."""
    with uow.write(ctx.engine) as conn:
        row = service.retry_delivery(conn, ctx.tenant_id, req.id, ctx.now())
    return data(service.delivery_to_wire(row))


@router.post("/events/list", response_model=Page[s.WebhookEventDoc])
def list_events(ctx: CtxDep, req: JsonBody[s.ListEvents]) -> JSONResponse:
    n = default_limit(req.limit)
    with uow.read(ctx.engine) as conn:
        rows = service.events_page(
            conn,
            ctx.tenant_id,
            webhook_id=req.webhook_id,
            event_type=req.event_type,
            before=after_id(req.next_page),
            limit=n,
        )
        items, nxt = cut(rows, n, lambda r: r.id)
        deliveries = service.deliveries_of(conn, ctx.tenant_id, [r.id for r in items], req.webhook_id)
    return page([service.event_to_wire(r, deliveries[r.id]) for r in items], nxt)
