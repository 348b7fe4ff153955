"""The console's events pages (issue 14 §3) over HTTP on both backends: an event looked up by transaction
id (its customer, matched metrics, not late), the unmatched events with hand-counted figures per customer
key and per event type, the late-events page, and a viewer's read-only view. Each test works in a tenant
of its own, so the unmatched lists hold only its events."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Running
from tests.console.support import sign_in


def _rows(html: str, table_id: str) -> list[list[str]]:
    """The cells' text of a table's body rows."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows
    ]


def _ok(r: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def tenant(server: Running) -> tuple[str, str]:
    """A fresh tenant's (token, uid): a COUNT metric of `api_call` events, one customer with an alias, and
    events for two keys that name no customer and of a type no metric counts."""
    uid = uuid.uuid4().hex[:8]
    token = server.server.token(f"events-{uid}")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    with server.http(token) as c:
        _ok(
            c.post(
                "/v1/billable-metrics/create",
                json={
                    "name": "API calls",
                    "aggregation_type": "COUNT",
                    "event_type_filter": {"in_values": ["api_call"]},
                },
            )
        )
        cid = _ok(c.post("/v1/customers", json={"name": "Acme", "ingest_aliases": [f"acme-{uid}"]}))["data"][
            "id"
        ]
        events = []

        def add(n: int, key: str, kind: str, tag: str) -> None:
            for i in range(n):
                events.append(
                    {
                        "transaction_id": f"{tag}-{i}-{uid}",
                        "customer_id": key,
                        "event_type": kind,
                        "timestamp": (at + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "properties": {"region": "us-east"},
                    }
                )

        add(5, "ghost-1", "api_call", "g1")  # 5 events of a key that names no customer
        add(2, "ghost-2", "api_call", "g2")  # 2 more
        add(3, f"acme-{uid}", "api_cal", "typo")  # 3 of a type no metric counts (a typo), for Acme
        add(1, f"acme-{uid}", "api_call", "ok")  # counted
        r = c.post("/v1/ingest", json=events)
        assert r.status_code == 200, r.text
    return token, cid


def test_unmatched_events_are_counted_per_key_and_type(server: Running, tenant: tuple[str, str]) -> None:
    token, _ = tenant
    c = sign_in(server, token)
    r = c.get("/ui/events/unmatched")
    assert r.status_code == 200, r.text
    keys = _rows(r.text, "unknown-keys")
    # ghost-1: 5 events, ghost-2: 2 events, both api_call, first seen at minute 0, last at minute 4 / 1.
    assert [row[:3] for row in keys] == [["ghost-1", "api_call", "5"], ["ghost-2", "api_call", "2"]]
    assert keys[0][3] < keys[0][4]
    assert keys[1][3] < keys[1][4]
    types = _rows(r.text, "unmatched-types")
    # api_cal (no metric admits it): 3 events, all of Acme's alias; api_call is counted by the metric.
    assert [row[:3] for row in types] == [["api_cal", types[0][1], "3"]]
    assert types[0][1].startswith("acme-")
    # The next page of keys after ghost-1 holds ghost-2 alone.
    after = c.get("/ui/events/unmatched", params={"after": "ghost-1"})
    assert [row[:3] for row in _rows(after.text, "unknown-keys")] == [["ghost-2", "api_call", "2"]]
    # Giving ghost-1 to a customer as an alias makes its events match (late binding): only ghost-2 is left.
    with server.http(token) as api:
        _ok(api.post("/v1/customers", json={"name": "Ghost One", "ingest_aliases": ["ghost-1"]}))
    again = c.get("/ui/events/unmatched")
    assert [row[:3] for row in _rows(again.text, "unknown-keys")] == [["ghost-2", "api_call", "2"]]


def test_event_lookup_shows_customer_metrics_and_lateness(server: Running, tenant: tuple[str, str]) -> None:
    token, cid = tenant
    c = sign_in(server, token)
    page = c.get("/ui/events/unmatched").text
    acme_key = _rows(page, "unmatched-types")[0][1]
    suffix = acme_key.removeprefix("acme-")
    ok = c.get("/ui/events", params={"transaction_id": f"ok-0-{suffix}"})
    assert ok.status_code == 200
    assert f'href="/ui/customers/{cid}"' in ok.text
    assert "Acme" in ok.text
    metrics = ok.text.split('id="event-metrics"', 1)[1].split("</dd>", 1)[0]
    assert "API calls" in metrics
    assert re.search(r'id="event-late">\s*no', ok.text)
    ghost = c.get("/ui/events", params={"transaction_id": f"g2-0-{suffix}"})
    assert "none: no customer has this id or ingest alias" in ghost.text
    typo = c.get("/ui/events", params={"transaction_id": f"typo-0-{suffix}"})
    assert "none matched" in typo.text.split('id="event-metrics"', 1)[1].split("</dd>", 1)[0]
    missing = c.get("/ui/events", params={"transaction_id": "no-such-event"})
    assert 'id="event-missing"' in missing.text


def test_late_events_page(server: Running, tenant: tuple[str, str]) -> None:
    token, cid = tenant
    c = sign_in(server, token)
    r = c.get("/ui/events/late", params={"customer_id": cid})
    assert r.status_code == 200
    # Nothing is finalized in this tenant, so nothing is late.
    assert _rows(r.text, "late-events") == [["No late events."]]
    assert c.get("/ui/events/late", params={"customer_id": str(uuid.uuid4())}).status_code == 404
