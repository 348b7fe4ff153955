"""Webhooks end to end (SPEC §8.2; PROMISES FT-6, SEC-4, SEC-5, SEC-7), on both backends.

A server started with `--test-clock` and `TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS=1` delivers to a receiver on
127.0.0.1 that fails in scripted ways (500, a timeout, a connection closed mid-body, a reset). The tests
move the test clock through the retry schedule: every POST /tally/v1/test-clock runs the worker pass,
whose last step sends whatever is due at the new time. The default server (session `server`, no
opt-in) must refuse non-public URLs.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from metronome import Metronome
from sqlalchemy import Engine, MetaData, select

from tally.clock import FixedClock
from tally.db import uow
from tally.models.tenants import tenants
from tally.settings import Settings
from tally.webhooks import delivery, keys
from tally.webhooks.outbox import enqueue
from tally.webhooks.signing import VerificationError, parse_date, verify
from tests.conftest import Running, serving
from tests.sdk.invoice_support import clock_now, iso, set_clock
from tests.support.servers import eventually

TIMEOUT_SECONDS = 1  # the server's webhook timeout in this module; the "timeout" receiver sleeps longer
SECRETS: list[str] = []  # every signing secret handed out here: none may show up in logs or the database


# ------------------------------------------------------------------------------------------ receiver


@dataclass
class Hit:
    mode: str
    path: str
    headers: dict[str, str]
    body: bytes
    complete: bool  # False when the receiver hung up before reading the whole body

    @property
    def envelope(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.body)
        return doc

    @property
    def date(self) -> datetime:
        return parse_date(self.headers["x-metronome-date"])


@dataclass
class Receiver:
    """A local webhook receiver. Each request takes the next mode from `script` (then `default`)."""

    script: list[str] = field(default_factory=list)
    default: str = "200"
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"

    def next_mode(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def record(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            mode = receiver.next_mode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(self.headers.get("Content-Length", "0"))
            self.close_connection = True
            if mode == "close":  # hang up half-way through the request body, without answering
                receiver.record(Hit(mode, self.path, headers, self.rfile.read(length // 2), complete=False))
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            receiver.record(Hit(mode, self.path, headers, self.rfile.read(length), complete=True))
            if mode == "reset":  # abortive close: the sender sees a TCP reset
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if mode == "timeout":
                time.sleep(TIMEOUT_SECONDS + 1.5)
            status = {"200": 200, "500": 500, "timeout": 200, "redirect": 302}[mode]
            self.send_response(status)
            if mode == "redirect":
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the fault modes break connections on purpose


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.httpd = _QuietServer(("127.0.0.1", 0), _handler(r))
    thread = threading.Thread(target=r.httpd.serve_forever, daemon=True)
    thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


# ------------------------------------------------------------------------------------------ servers


@pytest.fixture(scope="module")
def hook_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {
        "TALLY_WORKER_INTERVAL_SECONDS": "3600",  # the test clock endpoint runs due work itself
        "TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS": "1",  # the receiver is on 127.0.0.1
        "TALLY_WEBHOOKS_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    workdir = tmp_path_factory.mktemp(f"hooks-{backend}")
    with serving(backend, workdir, "--test-clock", "--log-level", "debug", env=env) as running:
        yield running


def _server_settings(running: Running) -> Settings:
    return Settings(
        data_dir=Path(running.server.env["TALLY_DATA_DIR"]),
        database_url=running.server.database_url,
        webhooks_allow_private_urls=True,
        webhooks_timeout_seconds=TIMEOUT_SECONDS,
    )


@pytest.fixture(scope="module")
def db(hook_server: Running) -> Iterator[Engine]:
    """The server's own database, for staging outbox events the way a domain transaction does."""
    engine = hook_server.server.engine()
    yield engine
    engine.dispose()


@dataclass
class Tenant:
    id: str
    http: httpx.Client
    sdk: Metronome


@pytest.fixture
def tenant(hook_server: Running, db: Engine, uid: str) -> Iterator[Tenant]:
    """A fresh tenant per test, so one test's endpoints never receive another's events."""
    name = f"hooks-{uid}"
    token = hook_server.server.token(name)
    with uow.read(db) as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == name)).scalar_one()
    sdk = hook_server.sdk(token)
    # These tests follow invoice.finalized and the delivery machinery, so the lifecycle notifications (on
    # by default, as in Metronome; tests/sdk/test_notifications.py) are switched off for this tenant.
    for system in sdk.v2.notifications.system.list().data:
        sdk.v2.notifications.offset.edit(policy={"type": system.policy.type}, is_enabled=False)
    with hook_server.http(token) as c:
        yield Tenant(tenant_id, c, sdk)
        for w in _ok(c.post("/tally/v1/webhooks/list", json={"limit": 100}))["data"]:
            _ok(c.post("/tally/v1/webhooks/archive", json={"id": w["id"]}))


# ------------------------------------------------------------------------------------------ helpers


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def _register(t: Tenant, url: str) -> tuple[str, str]:
    created = _ok(t.http.post("/tally/v1/webhooks/create", json={"url": url, "description": "test hook"}))
    secret = created["data"]["secret"]
    SECRETS.append(secret)
    return created["data"]["id"], secret


def _deliveries(t: Tenant, webhook_id: str) -> dict[str, dict[str, Any]]:
    """event id -> its delivery to `webhook_id` (with the event's type and properties alongside)."""
    events = _ok(t.http.post("/tally/v1/webhooks/events/list", json={"webhook_id": webhook_id}))["data"]
    out = {}
    for e in events:
        (d,) = e["deliveries"]
        out[e["id"]] = {**d, "type": e["type"], "properties": e["properties"]}
    return out


def _stage(db: Engine, tenant_id: str, event_type: str, now: datetime, *, commit: bool = True) -> str:
    """Write an event through `enqueue` in a transaction that commits, or rolls back."""

    class Rollback(Exception):
        pass

    try:
        with uow.write(db) as conn:
            event_id = enqueue(conn, tenant_id, event_type, {"customer_id": "c-1", "n": 1}, now)
            if not commit:
                raise Rollback
    except Rollback:
        pass
    return event_id


def _hour_after(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _finalizing_contract(t: Tenant, http: httpx.Client, uid: str, at: datetime) -> tuple[str, str]:
    """A contract whose only invoice to finalize soon is a scheduled charge at `at` (usage periods run a
    month from the contract start, so no usage invoice closes while this module moves the clock)."""
    fixed = t.sdk.v1.contracts.products.create(name=f"Setup {uid}", type="FIXED").data.id
    card = t.sdk.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    customer = t.sdk.v1.customers.create(name=f"Hooked {uid}").data.id
    contract = t.sdk.v1.contracts.create(
        customer_id=customer,
        starting_at=at - timedelta(hours=1),
        rate_card_id=card,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
        scheduled_charges=[
            {
                "product_id": fixed,
                "name": "Setup fee",
                "schedule": {"schedule_items": [{"timestamp": iso(at), "amount": 1500}]},
            }
        ],
    ).data.id
    return customer, contract


# ------------------------------------------------------------------------------------------ FT-6


def test_invoice_finalized_survives_receiver_faults(
    hook_server: Running, tenant: Tenant, receiver: Receiver, uid: str
) -> None:
    http = hook_server.http()
    webhook_id, secret = _register(tenant, receiver.url)
    t = _hour_after(clock_now(http)) + timedelta(hours=1)
    customer, contract = _finalizing_contract(tenant, http, uid, t)
    receiver.script = ["500", "timeout", "close", "reset", "200"]

    # Attempt 1 happens in the same pass that finalizes the scheduled invoice at t.
    assert set_clock(http, t)["finalized_invoices"] >= 1
    assert [h.mode for h in receiver.hits] == ["500"]
    (event_id,) = _deliveries(tenant, webhook_id)
    d = _deliveries(tenant, webhook_id)[event_id]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
    assert d["next_attempt_at"] == iso(t + timedelta(seconds=5))  # first retry after 5 s

    # Retries at 5, 10, 20, 40 s intervals: t+5 s, t+15 s, t+35 s, t+75 s. One second early, nothing.
    set_clock(http, t + timedelta(seconds=4))
    assert len(receiver.hits) == 1
    schedule = [5, 15, 35, 75]
    for offset in schedule:
        set_clock(http, t + timedelta(seconds=offset))
    assert [h.mode for h in receiver.hits] == ["500", "timeout", "close", "reset", "200"]
    set_clock(http, t + timedelta(hours=1))
    assert len(receiver.hits) == 5  # acked: no more attempts

    d = _deliveries(tenant, webhook_id)[event_id]
    assert (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == ("delivered", 5, 200, None)
    assert d["first_attempted_at"] == iso(t)
    assert d["delivered_at"] == iso(t + timedelta(seconds=75))

    # Every attempt carries the same envelope id, a fresh date (the clock at that attempt) in both date
    # headers, and a signature verify() accepts at that time.
    invoices = tenant.sdk.v1.customers.invoices.list(customer_id=customer, status="FINALIZED").data
    assert len(invoices) == 1
    expected_dates = [t + timedelta(seconds=s) for s in [0, *schedule]]
    assert [h.date for h in receiver.hits] == expected_dates
    for hit in receiver.hits:
        assert hit.headers["date"] == hit.headers["x-metronome-date"]
        assert hit.headers["content-type"] == "application/json"
        assert "tally-webhook-previous-signature" not in hit.headers
        if hit.complete:
            envelope = verify([secret], hit.headers, hit.body, hit.date, None)
            assert envelope == {
                "id": event_id,
                "type": "invoice.finalized",
                "properties": {
                    "invoice_id": invoices[0].id,
                    "customer_id": customer,
                    "contract_id": contract,
                    "timestamp": iso(t),
                },
            }
    # The receiver dedupes on id: the acked copy is new, the same bytes again are a replay.
    seen: set[str] = set()
    final = receiver.hits[-1]
    verify([secret], final.headers, final.body, final.date, seen)
    with pytest.raises(VerificationError, match="replayed"):
        verify([secret], final.headers, final.body, final.date, seen)
    acked = [h for h in receiver.hits if h.mode == "200"]
    print(
        f"RESULT FT-6 backend={hook_server.backend} delivered={len({h.envelope['id'] for h in acked})} "
        f"attempts={len(receiver.hits)} duplicates={len(acked) - len({h.envelope['id'] for h in acked})}"
    )


def test_metrics_count_finalization_and_deliveries(
    hook_server: Running, tenant: Tenant, receiver: Receiver, uid: str
) -> None:
    """/metrics moves with what the worker does: invoices finalized, deliveries by result, the outbox."""
    from tests.api.test_operations import scrape

    http = hook_server.http()
    _register(tenant, receiver.url)
    t = _hour_after(clock_now(http)) + timedelta(hours=1)
    _finalizing_contract(tenant, http, uid, t)
    receiver.script = ["500", "200"]
    before = scrape(hook_server.url)
    finalized = set_clock(http, t)["finalized_invoices"]
    assert finalized >= 1
    mid = scrape(hook_server.url)
    set_clock(http, t + timedelta(seconds=5))  # the retry, delivered
    after = scrape(hook_server.url)

    def moved(a: dict[str, float], b: dict[str, float], key: str) -> float:
        return b.get(key, 0) - a.get(key, 0)

    assert moved(before, mid, "tally_invoices_finalized_total") == finalized
    assert moved(before, mid, 'tally_webhook_deliveries_total{result="retrying"}') == 1
    assert mid["tally_webhook_outbox_backlog"] == 0  # the retry is pending but not yet due
    assert moved(mid, after, 'tally_webhook_deliveries_total{result="delivered"}') == 1
    assert moved(before, after, "tally_worker_pass_duration_seconds_count") >= 2
    assert after["tally_worker_due_contracts"] >= 0
    assert [h.mode for h in receiver.hits] == ["500", "200"]


def test_retries_stop_two_days_after_the_first_attempt(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    webhook_id, secret = _register(tenant, receiver.url)
    receiver.default = "500"
    t = clock_now(http).replace(microsecond=0) + timedelta(minutes=1)  # ahead of an unfrozen clock
    event_id = _stage(db, tenant.id, "test.always_failing", t)
    # Attempt n fails and waits 5·2^(n-1) s (capped at 15 min); a retry later than t + 2 days is not made.
    steps = [
        (t, 5),  # attempt 1 -> next t+5 s
        (t + timedelta(days=1), 10),  # attempt 2 (overdue, sent once) -> next t+1 d+10 s
        (t + timedelta(days=2, seconds=-60), 20),  # attempt 3 -> next t+2 d-40 s
        (t + timedelta(days=2, seconds=-40), 40),  # attempt 4 -> next t+2 d exactly: still allowed
    ]
    for n, (at, wait) in enumerate(steps, start=1):
        set_clock(http, at)
        d = _deliveries(tenant, webhook_id)[event_id]
        assert (d["status"], d["attempts"]) == ("pending", n)
        assert d["next_attempt_at"] == iso(at + timedelta(seconds=wait))
    set_clock(http, t + timedelta(days=2))  # attempt 5 -> t+2 d+80 s is past the limit: give up
    d = _deliveries(tenant, webhook_id)[event_id]
    assert (d["status"], d["attempts"], d["next_attempt_at"], d["last_status_code"]) == (
        "failed",
        5,
        None,
        500,
    )
    set_clock(http, t + timedelta(days=3))
    assert len(receiver.hits) == 5
    assert {h.envelope["id"] for h in receiver.hits} == {event_id}
    assert len({h.date for h in receiver.hits}) == 5
    for hit in receiver.hits:
        verify([secret], hit.headers, hit.body, hit.date, None)
    print(
        f"RESULT FT-6 backend={hook_server.backend} delivered=0 attempts={len(receiver.hits)} duplicates=0 "
        "(gave up after 2 days)"
    )


def test_an_event_staged_in_a_rolled_back_transaction_is_never_sent(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    webhook_id, _ = _register(tenant, receiver.url)
    now = clock_now(http)
    rolled_back = _stage(db, tenant.id, "test.rolled_back", now, commit=False)
    committed = _stage(db, tenant.id, "test.committed", now)
    set_clock(http, now + timedelta(seconds=1))
    set_clock(http, now + timedelta(hours=1))
    assert [h.envelope["id"] for h in receiver.hits] == [committed]
    assert list(_deliveries(tenant, webhook_id)) == [committed]
    assert rolled_back != committed


def test_kill_between_outbox_insert_and_send_still_delivers(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    webhook_id, secret = _register(tenant, receiver.url)
    now = clock_now(http)
    event_id = _stage(db, tenant.id, "test.crash_before_send", now)  # committed, not yet sent
    hook_server.server.stop(sig_kill=True)
    hook_server.server.start()
    set_clock(http, now + timedelta(seconds=1))
    # (With SQLite the restarted server's embedded worker may send it in its startup pass instead.)
    eventually(lambda: _deliveries(tenant, webhook_id)[event_id]["status"] == "delivered")
    assert [h.envelope["id"] for h in receiver.hits] == [event_id]
    verify([secret], receiver.hits[0].headers, receiver.hits[0].body, receiver.hits[0].date, set())


def test_crash_after_send_before_recording_resends_the_same_id(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    """A worker that sent but died before recording: the lease runs out and the event goes again."""
    http = hook_server.http()
    webhook_id, _ = _register(tenant, receiver.url)
    now = clock_now(http)
    event_id = _stage(db, tenant.id, "test.crash_after_send", now)
    settings = _server_settings(hook_server)
    clock = FixedClock(now)
    with uow.write(db) as conn:
        (claimed,) = delivery.claim(conn, now)
    assert delivery.send(claimed, keys.server_key(settings), clock, settings).ok
    # ... the process dies here: nothing is recorded, the row stays leased for LEASE (2 minutes).
    set_clock(http, now + timedelta(minutes=1))
    assert len(receiver.hits) == 1
    set_clock(http, now + delivery.LEASE)
    assert [h.envelope["id"] for h in receiver.hits] == [event_id, event_id]
    d = _deliveries(tenant, webhook_id)[event_id]
    assert (d["status"], d["attempts"]) == ("delivered", 2)
    print(f"RESULT FT-6 backend={hook_server.backend} delivered=1 attempts=2 duplicates=1 (crash after send)")


def test_events_go_to_the_endpoints_that_existed_when_they_were_created(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    first, _ = _register(tenant, receiver.url + "?endpoint=1")
    now = clock_now(http)
    early = _stage(db, tenant.id, "test.before_second_endpoint", now)
    second, _ = _register(tenant, receiver.url + "?endpoint=2")
    late = _stage(db, tenant.id, "test.after_second_endpoint", now)
    set_clock(http, now + timedelta(seconds=1))
    assert set(_deliveries(tenant, first)) == {early, late}
    assert set(_deliveries(tenant, second)) == {late}
    got = sorted((h.path, h.envelope["id"]) for h in receiver.hits)
    assert got == sorted(
        [("/hooks?endpoint=1", early), ("/hooks?endpoint=1", late), ("/hooks?endpoint=2", late)]
    )


def test_settled_events_older_than_the_retention_are_pruned(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    """The outbox does not grow forever: a delivered event goes once it is older than the retention, with
    its delivery; an event whose delivery is still being retried stays, however old."""
    http = hook_server.http()
    webhook_id, _ = _register(tenant, receiver.url)
    now = clock_now(http)
    delivered = _stage(db, tenant.id, "test.delivered", now)
    set_clock(http, now + timedelta(seconds=1))
    receiver.default = "500"
    retrying = _stage(db, tenant.id, "test.retrying", now + timedelta(seconds=1))
    set_clock(http, now + timedelta(seconds=2))
    states = {k: v["status"] for k, v in _deliveries(tenant, webhook_id).items()}
    assert states == {delivered: "delivered", retrying: "pending"}
    retention = timedelta(days=30)
    delivery.prune(db, FixedClock(now + timedelta(days=29)), retention)  # (other tests' events may go)
    assert set(_deliveries(tenant, webhook_id)) == {delivered, retrying}
    assert delivery.prune(db, FixedClock(now + timedelta(days=31)), retention) >= 1
    assert set(_deliveries(tenant, webhook_id)) == {retrying}
    with uow.read(db) as conn:
        left = (
            conn.execute(
                select(delivery.webhook_deliveries.c.event_id).where(
                    delivery.webhook_deliveries.c.tenant_id == tenant.id
                )
            )
            .scalars()
            .all()
        )
    assert left == [retrying]


# ------------------------------------------------------------------------------------------ config


def test_rotation_signs_with_both_secrets_for_the_window(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    webhook_id, old = _register(tenant, receiver.url)
    now = clock_now(http)
    rotated = _ok(tenant.http.post("/tally/v1/webhooks/rotateSecret", json={"id": webhook_id}))["data"]
    new = rotated["secret"]
    SECRETS.append(new)
    assert new != old
    assert new.startswith("whsec_")
    # Default window: the previous secret keeps signing (second header) for 24 hours.
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - now <= timedelta(hours=24, seconds=1)

    first = _stage(db, tenant.id, "test.during_rotation", now)
    set_clock(http, now + timedelta(seconds=1))
    (hit,) = receiver.hits
    assert hit.envelope["id"] == first
    assert "tally-webhook-previous-signature" in hit.headers
    for secrets in ([old], [new], [new, old]):
        verify(secrets, hit.headers, hit.body, hit.date, None)

    # Rotating again with no window (a leaked secret): only the newest secret signs from now on.
    again = _ok(
        tenant.http.post(
            "/tally/v1/webhooks/rotateSecret", json={"id": webhook_id, "previous_secret_ttl_hours": 0}
        )
    )["data"]
    newest = again["secret"]
    SECRETS.append(newest)
    assert "previous_secret_expires_at" not in again
    second = _stage(db, tenant.id, "test.after_rotation", now + timedelta(seconds=1))
    set_clock(http, now + timedelta(seconds=2))
    hit = receiver.hits[-1]
    assert hit.envelope["id"] == second
    assert "tally-webhook-previous-signature" not in hit.headers
    verify([newest], hit.headers, hit.body, hit.date, None)
    for stale in ([new], [old]):
        with pytest.raises(VerificationError, match="signature mismatch"):
            verify(stale, hit.headers, hit.body, hit.date, None)


def test_list_archive_and_redirects(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    webhook_id, _ = _register(tenant, receiver.url)
    listed = _ok(tenant.http.post("/tally/v1/webhooks/list", json={}))["data"]
    assert [(w["id"], w["url"], w["description"]) for w in listed] == [
        (webhook_id, receiver.url, "test hook")
    ]
    assert all("secret" not in w for w in listed)  # shown at creation only

    # A redirect is a failed attempt, never followed (the Location points at a metadata service).
    receiver.default = "redirect"
    now = clock_now(http)
    event_id = _stage(db, tenant.id, "test.redirected", now)
    set_clock(http, now + timedelta(seconds=1))
    d = _deliveries(tenant, webhook_id)[event_id]
    assert (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == (
        "pending",
        1,
        302,
        "HTTP 302",
    )
    assert len(receiver.hits) == 1

    # Archiving cancels what is pending; archived endpoints get no new events; archive is idempotent.
    _ok(tenant.http.post("/tally/v1/webhooks/archive", json={"id": webhook_id}))
    _ok(tenant.http.post("/tally/v1/webhooks/archive", json={"id": webhook_id}))
    _stage(db, tenant.id, "test.after_archive", now + timedelta(seconds=1))
    set_clock(http, now + timedelta(minutes=5))
    assert len(receiver.hits) == 1
    assert _deliveries(tenant, webhook_id)[event_id]["status"] == "canceled"
    assert _ok(tenant.http.post("/tally/v1/webhooks/list", json={}))["data"] == []
    archived = _ok(tenant.http.post("/tally/v1/webhooks/list", json={"include_archived": True}))["data"]
    assert [w["id"] for w in archived] == [webhook_id]
    assert "archived_at" in archived[0]
    r = tenant.http.post("/tally/v1/webhooks/rotateSecret", json={"id": webhook_id})
    assert r.status_code == 400
    assert "archived" in r.json()["message"]
    r = tenant.http.post("/tally/v1/webhooks/archive", json={"id": "00000000-0000-7000-8000-000000000000"})
    assert r.status_code == 404


BLOCKED = [
    "http://127.0.0.1:8080/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "http://localhost/hooks",
    "http://[::1]/hooks",
    "http://10.0.0.7/hooks",
    "http://0.0.0.0/hooks",
    "gopher://93.184.215.14/",
]


@pytest.mark.parametrize("url", BLOCKED)
def test_non_public_urls_are_refused_by_default(server: Running, url: str) -> None:
    with server.http() as c:
        r = c.post("/tally/v1/webhooks/create", json={"url": url})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("url: ")


def test_a_public_address_is_accepted_by_default(server: Running) -> None:
    with server.http() as c:
        created = _ok(c.post("/tally/v1/webhooks/create", json={"url": "https://93.184.215.14/hooks"}))[
            "data"
        ]
        SECRETS.append(created["secret"])
        _ok(c.post("/tally/v1/webhooks/archive", json={"id": created["id"]}))


# ------------------------------------------------------------------------------------------ SEC-4


def test_secrets_never_reach_logs_error_bodies_or_the_database(
    hook_server: Running, db: Engine, tenant: Tenant, receiver: Receiver
) -> None:
    http = hook_server.http()
    webhook_id, secret = _register(tenant, receiver.url)
    receiver.default = "500"
    now = clock_now(http)
    _stage(db, tenant.id, "test.logged_failure", now)
    set_clock(http, now + timedelta(seconds=1))  # a failed attempt: logged by the server
    bodies = [
        tenant.http.post("/tally/v1/webhooks/rotateSecret", json={"id": webhook_id, "bogus": secret}).text,
        tenant.http.post("/tally/v1/webhooks/create", json={"url": secret}).text,
        tenant.http.post("/tally/v1/webhooks/events/list", json={"webhook_id": webhook_id}).text,
        tenant.http.post("/tally/v1/webhooks/list", json={"include_archived": True}).text,
    ]
    _ok(tenant.http.post("/tally/v1/webhooks/archive", json={"id": webhook_id}))
    log_path = hook_server.server.log_path
    assert log_path is not None
    log = log_path.read_text(errors="replace")
    assert "webhook event" in log
    assert "attempt 1 failed (HTTP 500)" in log
    metadata = MetaData()
    metadata.reflect(db)
    with uow.read(db) as conn:
        dump = "\n".join(str(list(conn.execute(select(table)))) for table in metadata.sorted_tables)
    assert webhook_id in dump  # the dump is real
    for s in SECRETS:
        assert s not in log
        assert s not in dump
        assert all(s not in b for b in bodies)
    for hit in receiver.hits:
        assert all(s not in hit.body.decode() for s in SECRETS)
