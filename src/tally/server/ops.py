"""What operators need from the server: request ids and the access log, `/metrics`, `/ready`.

Installed by `create_app` with one call, so the application factory stays as it was.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine, event, text
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tally import tracing
from tally.db import migrate
from tally.kit import logs, metrics
from tally.kit.responses import ok
from tally.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
access_log = logs.get("tally.access")


class RequestContext:
    """Pure ASGI middleware: a request id (the client's `X-Request-Id` when it is a plain token of at
    most 128 characters, else a new one) bound to every log line of the request and returned in the
    response; then one access-log line and the HTTP metrics. While tracing is on (tally.tracing), the
    request is a SERVER span and its `trace_id` is bound to the log lines too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        method = scope["method"]
        with tracing.server_span(method, scope["path"], scope["headers"]) as span:
            trace_id = tracing.trace_id(span)
            bound = {"request_id": request_id} | ({"trace_id": trace_id} if trace_id else {})
            tokens = structlog.contextvars.bind_contextvars(**bound)
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                template = getattr(scope.get("route"), "path", None)
                route = template or "unmatched"
                ctx = (scope.get("state") or {}).get("ctx")
                tenant = getattr(ctx, "tenant_id", None)
                metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
                metrics.HTTP_DURATION.labels(method, route).observe(elapsed)
                if span is not None:
                    tracing.finish_request(span, method, template, status, request_id, tenant)
                access_log.info(
                    "request",
                    method=method,
                    route=route,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    tenant=tenant,
                )
                structlog.contextvars.reset_contextvars(**tokens)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def count_database_errors(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _count(ctx: Any) -> None:
        metrics.DB_ERRORS.labels(type(ctx.original_exception).__name__).inc()


def install(app: FastAPI, settings: Settings, engine: Engine) -> None:
    app.add_middleware(RequestContext)
    count_database_errors(engine)
    head = migrate.head()

    @app.get("/ready", include_in_schema=False)
    def ready() -> Any:
        """Readiness: the database answers and its schema is at this code's newest migration."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = migrate.current(engine)
        except Exception as exc:
            reason = f"database unavailable: {type(exc).__name__}"
            return ok({"status": "unavailable", "message": reason}, status_code=503)
        if current != head:
            reason = (
                f"database schema is at migration {current}, this tally needs {head}; run `tally migrate`"
            )
            return ok({"status": "unavailable", "message": reason}, status_code=503)
        return ok({"status": "ready", "migration": head})

    @app.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        """Prometheus metrics: with TALLY_METRICS_TOKEN set, only for `Authorization: Bearer <it>`;
        without it, only for clients on loopback."""
        if settings.metrics_token:
            given = request.headers.get("authorization", "").partition(" ")[2].strip()
            if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
                return ok({"message": "Invalid or missing metrics token"}, status_code=401)
        elif not _is_loopback(request.client.host if request.client else None):
            message = "Metrics are served to loopback only; set TALLY_METRICS_TOKEN to scrape remotely"
            return ok({"message": message}, status_code=403)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)
