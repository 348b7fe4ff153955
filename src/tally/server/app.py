"""The ASGI application: routers, authentication, and the one place errors become responses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tally import __version__
from tally.audit import recorder as audit
from tally.auth.dependencies import authenticate, check_path_params
from tally.clock import Clock, SystemClock
from tally.collection import webhook as stripe_webhook
from tally.console import mount as console
from tally.errors import TallyError
from tally.jobs import wiring
from tally.kit.responses import JSONResponse, ok
from tally.server import openapi, ops
from tally.server.routes import ROUTERS, TEST_CLOCK
from tally.settings import Settings

log = logging.getLogger("tally")

# Routes reachable without a token. Reviewed list: anything else must authenticate (tests walk the table).
# Stripe's webhook route is authenticated by Stripe's signature instead of a token (collection/webhook.py).
PUBLIC_PATHS = frozenset(
    {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", stripe_webhook.PATH}
)
PUBLIC_PATHS |= {"/ready", "/metrics"}  # tally.server.ops (/metrics has its own access control)


def _error(
    status: int,
    message: str,
    *,
    should_retry: bool | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    response = ok({"message": message}, status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if should_retry is not None:
        response.headers["x-should-retry"] = "true" if should_retry else "false"
    return response


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's own 405 names only the first route's)."""
    path = request.url.path
    methods: set[str] = set()
    for pattern, served in request.app.state.route_methods:
        if pattern.match(path):
            methods |= served
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TallyError)
    async def _tally(request: Request, exc: TallyError) -> Response:
        if console.owns(request):
            return console.error(request, exc.status, exc.message)
        return _error(exc.status, exc.message, should_retry=exc.should_retry)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errs = exc.errors()
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}" for e in errs[:5]
        ]
        if console.owns(request):
            return console.error(request, 400, "; ".join(parts) or "Invalid request")
        return _error(400, "; ".join(parts) or "Invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        if console.owns(request) and exc.status_code != 405:
            return console.error(request, exc.status_code, message)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return _error(exc.status_code, message, headers=headers)

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return _error(503, "Database unavailable; retry later", should_retry=True)

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        log.exception("database error")
        return _error(500, "Internal server error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "Internal server error")


def create_app(settings: Settings, engine: Engine, clock: Clock | None = None) -> FastAPI:
    # FastAPI's native OpenTelemetry stays off: tally.server.ops makes the request's span (with the request
    # id and tenant, and without bodies or validation input, which FastAPI's telemetry data carries).
    app = FastAPI(
        title="tally",
        version=__version__,
        default_response_class=JSONResponse,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or SystemClock()
    wiring.install()  # cross-domain hooks (tally.jobs.wiring), explicitly rather than by import
    audit.install(engine)  # lets the audit row of a create name the new resource (tally.audit.recorder)
    _install_error_handlers(app)
    ops.install(app, settings, engine)  # request ids, access log, /metrics, /ready

    @app.get("/health", include_in_schema=False)
    def health() -> Any:
        return ok({"status": "ok", "version": __version__})

    app.include_router(stripe_webhook.router)
    authed = APIRouter(dependencies=[Depends(authenticate), Depends(check_path_params)])
    for router in ROUTERS:
        authed.include_router(router)
    if settings.test_clock:
        authed.include_router(TEST_CLOCK)
    app.include_router(authed)
    console.install(app)  # the operator console under /ui/ (its own sessions; not in /openapi.json)
    mounted = [*ROUTERS, *console.AREAS, *([TEST_CLOCK] if settings.test_clock else [])]
    app.state.route_methods = [
        (route.path_regex, frozenset(route.methods or ()))
        for router in mounted
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    openapi.install(app)
    return app
