"""Every route refuses a missing or bad token with 401 (SEC-1). The route list comes from the
application's own route table, so a new route cannot be forgotten."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from tally.server.app import PUBLIC_PATHS
from tests.conftest import Running


def _routes() -> list[tuple[str, str]]:
    from tally.server.routes import ROUTERS

    out = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
                out.append((method, route.path))
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-7000-8000-000000000000", path)


ROUTES = _routes()


def test_route_table_is_not_empty_and_public_paths_are_few() -> None:
    assert len(ROUTES) >= 8
    assert {"/health"} <= PUBLIC_PATHS
    assert not any(path in PUBLIC_PATHS for _, path in ROUTES)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer tly_not-a-real-token"},
        {"Authorization": "Token abc"},
    ],
    ids=["none", "empty-bearer", "basic", "unknown-token", "other-scheme"],
)
def test_every_route_requires_a_valid_token(server: Running, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for method, path in ROUTES:
            r = c.request(
                method,
                _concrete(path),
                headers={**headers, "Content-Type": "application/json"},
                content=b"{}",
            )
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert "message" in r.json()


def test_health_is_public(server: Running) -> None:
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
