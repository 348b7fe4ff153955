"""Mounting the console on the application: its router, and its errors as HTML pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from tally.console import actions, catalog, contracts_pages, embed, events, ops_pages, pages
from tally.console.web import PREFIX, SignInRequired, error_page, redirect

# Every console router, one module per area of the console. The isolation test walks all their routes.
AREAS: list[APIRouter] = [
    pages.router,
    events.router,  # events: lookup, unmatched, late
    ops_pages.router,  # alerts, webhooks, audit, settings
    contracts_pages.router,  # contracts
    catalog.router,  # catalog: metrics, products, rate cards
    actions.router,  # operator actions (issue 14 §4)
]


def routes() -> list[APIRoute]:
    return [route for area in AREAS for route in area.routes if isinstance(route, APIRoute)]


def owns(request: Request) -> bool:
    """Whether a request is the console's (its errors are pages, not the API's JSON)."""
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def install(app: FastAPI) -> None:
    for area in AREAS:
        app.include_router(area)
    app.include_router(embed.router)  # /embed/{token}: embeddable customer dashboards, no operator session

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")


def error(request: Request, status: int, message: str) -> Response:
    return error_page(request, status, message)
