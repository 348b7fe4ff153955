"""Every route, fed garbage, answers a 4xx with a message in Metronome's shape — never a 5xx, never a
success that stored something. The route list is the application's own route table."""

from __future__ import annotations

import gzip
import re

import pytest

from tests.api.test_auth import ROUTES
from tests.conftest import Running

GARBAGE: list[tuple[str, bytes, dict[str, str]]] = [
    ("not-json", b"{", {}),
    ("array", b"[1, 2]", {}),
    ("string", b'"hello"', {}),
    ("number", b"12", {}),
    ("unknown-field", b'{"definitely_not_a_field": 1}', {}),
    ("nan", b'{"name": NaN}', {}),
    ("deep", b"[" * 5000 + b"]" * 5000, {}),
    ("nul", b'{"name": "a\\u0000b", "id": "a\\u0000b"}', {}),
    ("lone-surrogate", b'{"name": "\\ud800", "id": "\\ud800"}', {}),
    ("bad-gzip", b"not gzip at all", {"Content-Encoding": "gzip"}),
    ("huge-number", b'{"name": "x", "price": 1e999999}', {}),
    ("wrong-types", b'{"name": 5, "id": 7, "limit": "x", "starting_at": 3}', {}),
]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-7000-8000-000000000000", path)


@pytest.mark.parametrize(("label", "body", "headers"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_is_a_4xx_with_a_message(
    server: Running, label: str, body: bytes, headers: dict[str, str]
) -> None:
    failures = []
    with server.http() as c:
        for method, path in ROUTES:
            if method == "GET":
                continue
            r = c.request(
                method, _concrete(path), content=body, headers={"Content-Type": "application/json", **headers}
            )
            ok = 400 <= r.status_code < 500 and r.headers.get("content-type", "").startswith(
                "application/json"
            )
            if ok:
                ok = isinstance(r.json().get("message"), str) and bool(r.json()["message"])
            if not ok:
                failures.append((method, path, r.status_code, r.text[:200]))
    assert not failures, failures


def test_oversized_body_is_413_everywhere(server: Running) -> None:
    big = b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    with server.http() as c:
        r = c.post("/v1/billable-metrics/create", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["message"]


def test_webhooks_router_reads_bodies_with_its_own_smaller_limits(server: Running) -> None:
    """The webhooks router reads bodies through the same reader as every other route (kit.api.read_json),
    with 64 KiB limits: on the bytes sent and on what a gzip body inflates to."""
    url = "/tally/v1/webhooks/create"
    big = b'{"url": "https://example.com/' + b"x" * (64 * 1024) + b'"}'
    bomb = gzip.compress(b'{"url": "https://example.com/' + b"x" * (1024 * 1024) + b'"}')
    with server.http() as c:
        r = c.post(url, content=big, headers={"Content-Type": "application/json"})
        assert (r.status_code, r.json()["message"]) == (413, "Request body exceeds 65536 bytes")
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        r = c.post(url, content=bomb, headers=headers)
        assert (r.status_code, r.json()["message"]) == (413, "Decompressed body exceeds 65536 bytes")
        r = c.post(url, content=b"not gzip at all", headers=headers)
        assert (r.status_code, r.json()["message"]) == (400, "Body is not valid gzip")


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "next_page=%%%", "next_page=bm90LWpzb24"]
)
def test_bad_pagination_params(server: Running, query: str) -> None:
    with server.http() as c:
        for method, path in ROUTES:
            if method != "GET" or "{" in path:
                continue
            r = c.get(f"{path}?{query}")
            assert r.status_code == 400, (path, query, r.status_code, r.text)


def _cursor(key: object) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


FORGED = [
    _cursor([{"k": 1}, "a"]),
    _cursor([True, "a", "b", "c"]),
    _cursor([1, 2, 3]),
    _cursor(["a"] * 9),
    _cursor(7),
]


@pytest.mark.parametrize("cursor", FORGED)
def test_forged_cursors_are_never_a_5xx(server: Running, cursor: str) -> None:
    """A cursor is opaque, but a client can still forge one; it must be a 400, not a database error."""
    failures = []
    with server.http() as c:
        for method, path in ROUTES:
            if method != "POST":
                continue
            for where in ("query", "body"):
                params = {"next_page": cursor, "cursor": cursor} if where == "query" else None
                body = {"next_page": cursor, "cursor": cursor} if where == "body" else {}
                r = c.post(_concrete(path), params=params, json=body)
                if r.status_code >= 500:
                    failures.append((path, where, r.status_code, r.text[:200]))
    assert not failures, failures
