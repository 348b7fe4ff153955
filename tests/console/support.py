"""Signing in to the console over HTTP, as a browser's form post would."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Running

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


def sign_in(
    server: Running, token: str | None = None, *, email: str = "", password: str = ""
) -> httpx.Client:
    """A client holding a console session (API token, or an operator account when `email` is given)."""
    c = httpx.Client(base_url=server.url, timeout=30)
    form = c.get("/ui/login")
    assert form.status_code == 200, form.text
    fields = {"csrf": csrf_of(form.text), "next": "/ui/customers"}
    if email:
        fields |= {"email": email, "password": password}
    else:
        fields["token"] = token or server.token_a
    r = c.post("/ui/login", data=fields)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/customers"
    return c


def page_csrf(c: httpx.Client, path: str) -> str:
    r = c.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)
