"""The request context every authenticated route receives: tenant, engine and clock.

Authentication runs as a router-level dependency, so it happens before any body is read or validated.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy import Engine

from tally.audit import recorder as audit
from tally.auth.service import Tenant, hash_token, tenant_for_token
from tally.clock import Clock
from tally.db import uow
from tally.errors import BadRequest, Unauthorized
from tally.kit.api import body_type, read_json

TOKEN_CACHE_SECONDS = 5.0  # a revoked token stops working within this many seconds


@dataclass(frozen=True)
class Ctx:
    tenant: Tenant
    engine: Engine
    clock: Clock

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    def now(self) -> datetime:
        return self.clock.now()


class _TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Tenant]] = {}

    def get(self, digest: str) -> Tenant | None:
        with self._lock:
            hit = self._entries.get(digest)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, digest: str, tenant: Tenant) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, tenant)


_cache = _TokenCache()


async def authenticate(request: Request) -> Ctx:
    """Async so the common case (a cached token) costs no thread hop; a cache miss queries in a thread."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing or malformed Authorization header; expected 'Bearer <token>'")
    token = token.strip()
    engine: Engine = request.app.state.engine
    digest = hash_token(token)
    tenant = _cache.get(digest)
    if tenant is None:
        tenant = await anyio.to_thread.run_sync(_lookup, engine, token)
        if tenant is None:
            raise Unauthorized("Invalid API token")
        _cache.put(digest, tenant)
    ctx = Ctx(tenant=tenant, engine=engine, clock=request.app.state.clock)
    request.state.ctx = ctx
    route = request.scope.get("route")
    audit.begin(
        method=request.method,
        template=getattr(route, "path", None),
        path=request.url.path,
        path_params=request.path_params,
        tenant_id=tenant.id,
        token_hash=digest,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        clock=ctx.clock,
    )
    return ctx


def _lookup(engine: Engine, token: str) -> Tenant | None:
    with uow.read(engine) as conn:
        return tenant_for_token(conn, token)


def check_path_params(request: Request) -> None:
    """Path parameters get the same text checks as body and query strings, before any route reads them:
    a NUL character is a 400 on both databases (PostgreSQL cannot even bind it as text)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise BadRequest(f"{name}: must not contain NUL characters")


def current(request: Request) -> Ctx:
    ctx: Ctx = request.state.ctx
    return ctx


CtxDep = Annotated[Ctx, Depends(current)]

MAX_DECOMPRESSED = 16 * 1024 * 1024


async def json_body(request: Request) -> Any:
    """The request body decoded exactly, within the configured size (`kit.api.read_json`); noted for the
    audit log."""
    body = await read_json(request, request.app.state.settings.max_body_bytes, MAX_DECOMPRESSED)
    audit.note_body(body)
    return body


BodyDep = Annotated[Any, Depends(json_body)]

M = TypeVar("M", bound=BaseModel)

if TYPE_CHECKING:
    JsonBody = Annotated[M, "the request body, validated by M"]
else:
    # `req: JsonBody[Model]`: the body read by json_body, validated by Model (which /openapi.json documents).
    JsonBody = body_type(json_body)
