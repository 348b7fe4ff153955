"""Browser tests of the console: Playwright (from PyPI) drives Debian's Chromium (`apt-get install
chromium`; `python3 dev.py test` and .ci/run install it). One browser per module, bounded timeouts, and every
request the page makes must go to the loopback server under test (anything else is aborted and fails)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.sdk.invoice_support import clock_server  # noqa: F401 - fixture

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 15_000
# `TALLY_CONSOLE_SCREENSHOTS=docs/console python3 dev.py test tests/browser` refreshes docs/console.md's
# pictures.
SHOTS = os.environ.get("TALLY_CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (python3 dev.py test installs it)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],  # root in a container
        timeout=TIMEOUT_MS * 4,
    )
    yield b
    b.close()


class Loopback:
    """Aborts and remembers any request that is not to the loopback server."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def __call__(self, route: object) -> None:
        from playwright.sync_api import Route

        assert isinstance(route, Route)
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "::1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    guard = Loopback()
    ctx.route("**/*", guard)
    yield ctx
    ctx.close()
    assert not guard.blocked, guard.blocked


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def watch_for_scripts(page: Page) -> tuple[list[str], list[str]]:
    """Record any dialog the page opens (dismissing it) and any console or page error: a page where no
    script ran leaves both lists empty."""
    from playwright.sync_api import ConsoleMessage, Dialog

    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    def on_console(m: ConsoleMessage) -> None:
        if m.type == "error":
            errors.append(m.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return dialogs, errors
