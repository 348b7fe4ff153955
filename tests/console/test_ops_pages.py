"""The console's alerts, webhooks, audit and settings pages (issue 14 §3, §4) over HTTP on both backends:
each action runs the API's service (same results, same 400s), is audited as its API route, and is
refused to a viewer; another tenant's ids get 404s. Each test works in a tenant of its own."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest

from tests.conftest import Running
from tests.console.support import page_csrf, sign_in
from tests.console.test_console import PASSWORD, _create_user
from tests.console.test_events import _rows


def _ok(r: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def fresh(server: Running) -> tuple[str, str]:
    uid = uuid.uuid4().hex[:8]
    return server.server.token(f"ops-{uid}"), uid


def test_alert_create_list_archive_and_audit(server: Running, fresh: tuple[str, str]) -> None:
    token, uid = fresh
    c = sign_in(server, token)
    csrf = page_csrf(c, "/ui/alerts")
    with server.http(token) as api:
        cid = _ok(api.post("/v1/customers", json={"name": "Acme"}))["data"]["id"]
        bad_api = api.post(
            "/v1/alerts/create",
            json={
                "alert_type": "low_remaining_contract_credit_balance_reached",
                "name": "x",
                "threshold": "abc",
            },
        )
    form = {
        "csrf": csrf,
        "alert_type": "low_remaining_contract_credit_balance_reached",
        "name": f"Low {uid}",
        "threshold": "abc",
    }
    bad = c.post("/ui/alerts", data=form)
    assert bad.status_code == 400 == bad_api.status_code
    assert bad_api.json()["message"] in bad.text.replace("&#39;", "'")
    r = c.post("/ui/alerts", data=form | {"threshold": "1000", "customer_id": cid})
    assert r.status_code == 303, r.text
    rows = _rows(c.get("/ui/alerts").text, "alerts")
    assert [row[:5] for row in rows] == [
        [f"Low {uid}", "low_remaining_contract_credit_balance_reached", "Acme", "1,000", "enabled"]
    ]
    alert_id = rows[0][5]
    # Tenant B holding A's alert id gets a 404 and changes nothing.
    b = sign_in(server, server.token_b)
    assert (
        b.post("/ui/alerts/archive", data={"csrf": page_csrf(b, "/ui/alerts"), "id": alert_id}).status_code
        == 404
    )
    assert c.post("/ui/alerts/archive", data={"csrf": csrf, "id": alert_id}).status_code == 303
    assert _rows(c.get("/ui/alerts").text, "alerts") == [["No enabled alerts."]]
    assert _rows(c.get("/ui/alerts?archived=1").text, "alerts")[0][4] == "archived"
    # Both actions are in the audit log, newest first, as the API routes would record them.
    audit = _rows(c.get("/ui/audit").text, "audit")
    assert [row[2] for row in audit[:2]] == ["alert.archive", "alert.create"]
    assert audit[0][3] == "POST /v1/alerts/archive"
    only = _rows(c.get("/ui/audit", params={"action": "alert.create"}).text, "audit")
    assert [row[2] for row in only] == ["alert.create"]
    actor = audit[0][1]
    # The token's three writes: the customer (API), the alert's creation and its archive (console).
    assert len(_rows(c.get("/ui/audit", params={"actor": actor}).text, "audit")) == 3
    assert _rows(c.get("/ui/audit", params={"actor": "nobody"}).text, "audit") == [["No entries match."]]


def test_tokens_create_shown_once_and_revoke(server: Running, fresh: tuple[str, str]) -> None:
    token, uid = fresh
    c = sign_in(server, token)
    csrf = page_csrf(c, "/ui/settings")
    r = c.post("/ui/settings/tokens", data={"csrf": csrf, "name": f"sync-{uid}"})
    assert r.status_code == 200
    new = re.search(r'id="new-token">.*?<p class="mono secret">([^<]+)</p>', r.text, re.S)
    assert new is not None
    secret = new.group(1).strip()
    with server.http(secret) as api:
        assert api.get("/v1/customers").status_code == 200
    page = c.get("/ui/settings").text
    assert secret not in page  # shown once
    row = re.search(rf'data-token="([^"]+)">\s*<td>sync-{uid}</td>', page)
    assert row is not None
    token_id = row.group(1)
    b = sign_in(server, server.token_b)
    refused = b.post(
        "/ui/settings/tokens/revoke", data={"csrf": page_csrf(b, "/ui/settings"), "id": token_id}
    )
    assert refused.status_code == 404
    assert c.post("/ui/settings/tokens/revoke", data={"csrf": csrf, "id": token_id}).status_code == 303
    assert "revoked" in _rows(c.get("/ui/settings").text, "tokens")[0][3]
    with server.http(secret) as api:
        api.headers["Authorization"] = f"Bearer {secret}"
        time.sleep(5.5)  # the server's token cache window
        assert api.get("/v1/customers").status_code == 401


def test_invoice_settings_through_the_api_service(server: Running, fresh: tuple[str, str]) -> None:
    token, _ = fresh
    c = sign_in(server, token)
    csrf = page_csrf(c, "/ui/settings")
    form = {
        "csrf": csrf,
        "grace_period_hours": "48",
        "invoice_number_prefix": "ACME-",
        "address_lines": "1 Way\nTown",
    }
    assert c.post("/ui/settings/invoice", data=form).status_code == 303
    with server.http(token) as api:
        got = _ok(api.post("/tally/v1/invoice-settings/get", json={}))["data"]
        bad_api = api.post("/tally/v1/invoice-settings", json={"grace_period_hours": -1})
    assert (got["grace_period_hours"], got["invoice_number_prefix"], got["address_lines"]) == (
        48,
        "ACME-",
        ["1 Way", "Town"],
    )
    facts = c.get("/ui/settings").text
    assert "48 hours" in facts
    assert "ACME-" in facts
    bad = c.post("/ui/settings/invoice", data={"csrf": csrf, "grace_period_hours": "-1"})
    assert bad.status_code == 400 == bad_api.status_code
    assert bad_api.json()["message"] in bad.text.replace("&#39;", "'")


def test_webhook_rotate_shows_secret_once_and_retry_refuses_unknown(
    server: Running, fresh: tuple[str, str]
) -> None:
    token, _ = fresh
    c = sign_in(server, token)
    with server.http(token) as api:
        hook = _ok(api.post("/tally/v1/webhooks/create", json={"url": "https://93.184.215.14/ops-hooks"}))[
            "data"
        ]
    try:
        csrf = page_csrf(c, "/ui/webhooks")
        r = c.post("/ui/webhooks/rotate", data={"csrf": csrf, "id": hook["id"]})
        assert r.status_code == 200
        shown = re.search(r'<p class="mono secret">([^<]+)</p>', r.text)
        assert shown is not None
        assert shown.group(1) != hook["secret"]
        page = c.get("/ui/webhooks").text
        assert shown.group(1) not in page
        assert "previous secret signs until" in page
        b = sign_in(server, server.token_b)
        assert (
            b.post(
                "/ui/webhooks/rotate", data={"csrf": page_csrf(b, "/ui/webhooks"), "id": hook["id"]}
            ).status_code
            == 404
        )
        missing = c.post("/ui/webhooks/deliveries/retry", data={"csrf": csrf, "id": str(uuid.uuid4())})
        assert missing.status_code == 404
        with server.http(token) as api:
            assert (
                api.post("/tally/v1/webhooks/deliveries/retry", json={"id": str(uuid.uuid4())}).status_code
                == 404
            )
        assert _rows(c.get("/ui/webhooks?failed=1").text, "webhook-deliveries") == [["No failed deliveries."]]
    finally:
        with server.http(token) as api:
            _ok(api.post("/tally/v1/webhooks/archive", json={"id": hook["id"]}))


def test_viewer_sees_pages_without_actions_and_gets_403(server: Running) -> None:
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    done = _create_user(server, email, "viewer", PASSWORD)
    assert done.returncode == 0, done.stderr
    v = sign_in(server, email=email, password=PASSWORD)
    for path in (
        "/ui/events",
        "/ui/events/unmatched",
        "/ui/alerts",
        "/ui/webhooks",
        "/ui/audit",
        "/ui/settings",
    ):
        r = v.get(path)
        assert r.status_code == 200, path
        forms = re.findall(r'<form method="post" action="([^"]+)"', r.text)
        assert forms == ["/ui/logout"], (path, forms)
    csrf = page_csrf(v, "/ui/settings")
    for path, data in (
        (
            "/ui/alerts",
            {"alert_type": "low_remaining_contract_credit_balance_reached", "name": "x", "threshold": "1"},
        ),
        ("/ui/alerts/archive", {"id": "x"}),
        ("/ui/webhooks/rotate", {"id": "x"}),
        ("/ui/webhooks/deliveries/retry", {"id": "x"}),
        ("/ui/settings/invoice", {"grace_period_hours": "1"}),
        ("/ui/settings/tokens", {"name": "x"}),
        ("/ui/settings/tokens/revoke", {"id": "x"}),
    ):
        assert v.post(path, data={"csrf": csrf, **data}).status_code == 403, path
