"""The suite never sends traffic past loopback (issue 11, point 2).

Two mechanisms hold it, and these tests prove each:
- every server the suite starts runs with `TALLY_OUTBOUND_LOOPBACK_ONLY=1`: tally refuses, before any DNS
  lookup or connect, to deliver anywhere but loopback, and records the refusal on the delivery;
- the egress guard (tests/support/egress/sitecustomize.py) runs in every Python process of the suite and
  refuses and records any connect or datagram past loopback; the suite fails if anything was recorded.

A public endpoint is still accepted at registration (a production server must take one); it is never
delivered to. No test here can reach the address even if a mechanism were broken: the server test has both
mechanisms in front of it, and the guard test connects a socket that is already closed, so a missing guard
would fail with EBADF instead of sending anything.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tally.db import uow
from tally.models.tenants import tenants
from tally.webhooks import ssrf
from tally.webhooks.outbox import enqueue
from tests.conftest import EGRESS_LOG, Running, serving
from tests.sdk.invoice_support import clock_now, set_clock

PUBLIC_URL = "https://93.184.215.14/hooks"  # a global address: accepted at registration, never called


@pytest.fixture(scope="module")
def clocked(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {"TALLY_WORKER_INTERVAL_SECONDS": "3600"}  # only the test clock runs the worker pass
    with serving(backend, tmp_path_factory.mktemp(f"egress-{backend}"), "--test-clock", env=env) as running:
        yield running


def _guard_lines() -> list[str]:
    return EGRESS_LOG.read_text().splitlines() if EGRESS_LOG.exists() else []


def test_suite_servers_are_confined_to_loopback(clocked: Running) -> None:
    assert clocked.server.env["TALLY_OUTBOUND_LOOPBACK_ONLY"] == "1"
    before = _guard_lines()
    with clocked.http() as c:
        created = c.post("/tally/v1/webhooks/create", json={"url": PUBLIC_URL})
        assert created.status_code == 200, created.text  # a public URL is a valid registration
        webhook_id = created.json()["data"]["id"]
        now = clock_now(c)
        engine = clocked.server.engine()
        try:
            with uow.write(engine) as conn:
                tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == "alpha")).scalar_one()
                event_id = enqueue(conn, tenant_id, "alerts.test", {"customer_id": "c-1"}, now)
        finally:
            engine.dispose()
        # The pass at the new time sends whatever is due: here, the event to the public endpoint.
        set_clock(c, now + timedelta(minutes=1))
        listed = c.post("/tally/v1/webhooks/events/list", json={"webhook_id": webhook_id}).json()["data"]
    (event,) = [e for e in listed if e["id"] == event_id]
    (delivery,) = event["deliveries"]
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] is None
    assert "confined to loopback" in delivery["last_error"]
    assert delivery["status"] == "pending"  # retried later, and refused again the same way
    assert _guard_lines() == before  # nothing even tried to leave the machine


@pytest.mark.parametrize(
    "url",
    [PUBLIC_URL, "https://hooks.example.com/x", "http://10.0.0.7/", "http://[2606:2800:220:1::1]/"],
)
def test_the_loopback_rule_refuses_before_any_lookup(url: str) -> None:
    with pytest.raises(ssrf.BlockedURL, match="confined to loopback"):
        ssrf.check(url, allow_private=True, loopback_only=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/h", "http://localhost:9/h", "http://[::1]:9/h"])
def test_the_loopback_rule_lets_loopback_through(url: str) -> None:
    target = ssrf.check(url, allow_private=True, loopback_only=True)
    assert all(a.is_loopback for a in target.addresses)


def test_the_guard_refuses_and_records_a_connect_past_loopback(tmp_path: Path) -> None:
    before = _guard_lines()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.close()  # closed: without the guard this raises EBADF and sends nothing
    with pytest.raises(OSError) as refused:
        sock.connect(("93.184.215.14", 443))
    assert refused.value.errno == errno.ENETUNREACH
    assert "egress guard" in str(refused.value)
    lines = _guard_lines()
    assert len(lines) == len(before) + 1
    assert "93.184.215.14" in lines[-1]
    # This test's own refusal is the expected one: take it back out so the session check stays meaningful.
    EGRESS_LOG.write_text("".join(f"{line}\n" for line in before))


def test_the_guard_fails_name_lookups_like_an_offline_resolver() -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("hooks.example.com", 443)
    assert socket.getaddrinfo("localhost", 80)
