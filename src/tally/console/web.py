"""The console's plumbing: templates, security headers, sessions from the cookie, CSRF-checked forms."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

import anyio
from fastapi import Depends, Request
from jinja2 import Environment, PackageLoader
from sqlalchemy import Connection, Engine
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tally.audit import recorder as audit
from tally.clock import Clock
from tally.console import accounts
from tally.db import uow
from tally.errors import BadRequest, PayloadTooLarge, TallyError
from tally.invoices import render as invoice_render

PREFIX = "/ui"
COOKIE = "tally_session"
LOGIN_COOKIE = "tally_login_csrf"
MAX_FORM = 64 * 1024

# No inline script or style anywhere: everything comes from /ui/static (the package itself).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


class Forbidden(TallyError):
    status = 403


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(
        loader=PackageLoader("tally.console", "templates"),
        autoescape=True,  # every value is escaped; nothing in the console marks text safe
        trim_blocks=True,
        lstrip_blocks=True,
    )
    e.filters["q"] = lambda value: quote(str(value), safe="")
    e.filters["qty"] = invoice_render.quantity
    return e


def secure_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    session: accounts.Session | None = getattr(request.state, "console_session", None)
    body = env().get_template(template).render(session=session, prefix=PREFIX, **values)
    return secure_headers(HTMLResponse(body, status_code=status))  # type: ignore[return-value]


def redirect(url: str) -> Response:
    return secure_headers(RedirectResponse(url, status_code=303))


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status=status, status_code=status, message=message)


@dataclass(frozen=True)
class Ctx:
    """What a console view works with: the session's tenant, the engine and the clock."""

    session: accounts.Session
    engine: Engine
    clock: Clock
    ip: str | None
    user_agent: str | None

    @property
    def tenant_id(self) -> str:
        return self.session.tenant.id

    def now(self) -> datetime:
        return self.clock.now()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with uow.read(self.engine) as conn:
            yield conn

    @contextmanager
    def action(self, api_route: str, body_ids: dict[str, str]) -> Iterator[uow.WriteConn]:
        """A write transaction audited exactly as the API route it stands for (`POST /v1/invoices/void`)."""
        if not self.session.can_act:
            raise Forbidden("A viewer cannot change anything")
        s = self.session
        method, _, template = api_route.partition(" ")
        audit.begin(
            method=method,
            template=template,
            path=template,
            path_params={},
            tenant_id=s.tenant.id,
            token_hash=s.token_hash or "",
            ip=self.ip,
            user_agent=self.user_agent,
            clock=self.clock,
            actor=None if s.token_hash else (s.user_id or "unknown", f"console {s.actor_name}"),
        )
        audit.note_body(body_ids)
        try:
            with uow.write(self.engine) as conn:
                yield conn
        finally:
            audit.begin(
                method="GET",
                template=None,
                path="",
                path_params={},
                tenant_id="",
                token_hash="",
                ip=None,
                user_agent=None,
                clock=self.clock,
            )


def _load_session(engine: Engine, session_id: str, now: datetime) -> accounts.Session | None:
    with uow.read(engine) as conn:
        return accounts.load(conn, session_id, now)


async def console_ctx(request: Request) -> Ctx:
    session_id = request.cookies.get(COOKIE)
    clock: Clock = request.app.state.clock
    engine: Engine = request.app.state.engine
    session = None
    if session_id:
        session = await anyio.to_thread.run_sync(_load_session, engine, session_id, clock.now())
    if session is None:
        raise SignInRequired
    request.state.console_session = session
    return Ctx(
        session=session,
        engine=engine,
        clock=clock,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


ConsoleCtx = Annotated[Ctx, Depends(console_ctx)]


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the only kind the console's forms send)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("Expected a form (application/x-www-form-urlencoded)")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM:
            raise PayloadTooLarge(f"Form exceeds {MAX_FORM} bytes")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("Malformed form") from None
    return dict(pairs)


Form = Annotated[dict[str, str], Depends(read_form)]


def check_csrf(ctx: Ctx, form: dict[str, str]) -> None:
    if not hmac.compare_digest(form.get("csrf", "").encode(), ctx.session.csrf.encode()):
        raise Forbidden("The form has expired or did not come from this console; reload the page and retry")
