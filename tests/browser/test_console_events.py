"""The console's unmatched-events list and API tokens in a real browser (issue 14): an operator clicks
from the nav to the unmatched events and reads the counts per key, then creates an API token (shown once)
and revokes it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import shot
from tests.conftest import Running


def test_unmatched_events_counts_and_token_create_revoke(clock_server: Running, page: Page) -> None:
    uid = uuid.uuid4().hex[:8]
    token = clock_server.server.token(f"browser-events-{uid}")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [
        {"transaction_id": f"{key}-{i}", "customer_id": key, "event_type": "api_call", "timestamp": stamp}
        for key, n in (("ghost-1", 5), ("ghost-2", 2))  # 5 and 2 events of keys that name no customer
        for i in range(n)
    ]
    with clock_server.http(token) as api:
        assert api.post("/v1/ingest", json=events).status_code == 200

    page.goto(clock_server.url + "/ui/login")
    page.locator("#token-form input[name=token]").fill(token)
    page.locator("#token-form button[type=submit]").click()
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_role("link", name="Unmatched").click()
    expect(page).to_have_url(clock_server.url + "/ui/events/unmatched")
    rows = page.locator("#unknown-keys tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(
        ["ghost-1", "api_call", "5", stamp[:16].replace("T", " "), stamp[:16].replace("T", " ")]
    )
    expect(rows.nth(1).locator("td").nth(2)).to_have_text("2")
    shot(page, "events")

    page.get_by_role("link", name="Settings", exact=True).click()
    page.locator("#token-create-form input[name=name]").fill("browser-sync")
    page.locator("#token-create-form button[type=submit]").click()
    secret = page.locator("#new-token .secret")
    expect(secret).to_contain_text("tly_")
    new_token = secret.inner_text().strip()
    row = page.locator("#tokens tbody tr", has_text="browser-sync")
    expect(row).to_contain_text("active")
    shot(page, "settings")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#tokens tbody tr", has_text="browser-sync")).to_contain_text("revoked")
    expect(page.locator("#new-token")).to_have_count(0)
    assert new_token not in page.content()
