"""An embeddable dashboard URL opened in a fresh browser context (no console cookie), inside an iframe of
a page served by the test on another loopback origin, as a tenant's own product would embed it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import shot
from tests.conftest import Running
from tests.sdk.invoice_support import Scenario
from tests.sdk.test_dashboards import scenario  # noqa: F401 - fixture (the usage draft: $25.00 of tokens)

OVERRIDE = "#c0185a"  # rgb(192, 24, 90)


class _Host:
    """A tiny web server on loopback whose only page frames `embed`."""

    def __init__(self) -> None:
        self.embed = ""
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    "<!doctype html><html><head><title>Tenant app</title></head><body>"
                    "<h1>Your billing</h1>"
                    f'<iframe id="billing" src="{escape(host.embed)}" width="900" height="600"></iframe>'
                    "</body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host() -> Iterator[_Host]:
    h = _Host()
    yield h
    h.close()


def test_embedded_invoices_render_in_an_iframe_with_the_colour_override(
    clock_server: Running,
    scenario: Scenario,  # noqa: F811
    context: BrowserContext,
    page: Page,
    host: _Host,
) -> None:
    url = (
        clock_server.sdk()
        .v1.dashboards.get_embeddable_url(
            customer_id=scenario.customer,
            dashboard="invoices",
            color_overrides=[{"name": "Primary_medium", "value": OVERRIDE}],
        )
        .data.url
    )
    assert url is not None
    assert context.cookies() == []  # a fresh context: no console session
    host.embed = url
    page.goto(host.url)
    frame = page.frame_locator("#billing")
    table = frame.locator("#embed-invoices")
    table.wait_for()
    assert "$25.00" in table.inner_text()
    heading = frame.locator(".embed-head h1")
    assert heading.inner_text() == "Invoices"
    assert heading.evaluate("e => getComputedStyle(e).color") == "rgb(192, 24, 90)"
    assert context.cookies() == []
    shot(page, "embed")


def test_tampered_url_shows_the_403_page(
    clock_server: Running,
    scenario: Scenario,  # noqa: F811
    page: Page,
) -> None:
    url = clock_server.sdk().v1.dashboards.get_embeddable_url(
        customer_id=scenario.customer, dashboard="usage"
    )
    assert url.data.url is not None
    bad = url.data.url[:-3] + ("AAA" if not url.data.url.endswith("AAA") else "BBB")
    response = page.goto(bad)
    assert response is not None
    assert response.status == 403
    assert "not valid" in page.locator("#embed-error").inner_text()
