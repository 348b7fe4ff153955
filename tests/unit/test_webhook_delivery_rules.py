"""Webhook delivery rules without a database: the retry schedule, the URL policy (SEC-7) and the HTTP
sender's behaviour against a loopback receiver (no redirects followed, blocked at send time)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tally.webhooks import ssrf
from tally.webhooks.delivery import GIVE_UP_AFTER, next_attempt, retry_delay
from tally.webhooks.transport import post

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_backoff_doubles_from_five_seconds_and_caps_at_fifteen_minutes() -> None:
    # 5·2^(n-1) s: 5, 10, 20, 40, 80, 160, 320, 640, then 1280 > 900 is capped.
    got = [retry_delay(n).total_seconds() for n in range(1, 12)]
    assert got == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900]
    assert retry_delay(10_000) == timedelta(minutes=15)


def test_the_whole_schedule_spans_two_days_then_stops() -> None:
    # Failing every time, starting at T0: attempts at T0, +5 s, +15 s, +35 s, ... then every 15 min.
    times = [T0]
    while (nxt := next_attempt(T0, times[-1], len(times))) is not None:
        times.append(nxt)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[:8] == [timedelta(seconds=s) for s in (5, 10, 20, 40, 80, 160, 320, 640)]
    assert all(g == timedelta(minutes=15) for g in gaps[8:])
    assert times[-1] <= T0 + GIVE_UP_AFTER < times[-1] + timedelta(minutes=15)
    # The ramp takes 5+10+...+640 = 1275 s; the remaining 172800-1275 = 171525 s hold 190 whole
    # 15-minute gaps (190·900 = 171000): 1 + 8 + 190 = 199 attempts ("~200 tries", SPEC §8.2).
    assert len(times) == 199


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.1/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one decimal number
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",  # carrier-grade NAT: not global
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
    ],
)
def test_non_public_hosts_are_blocked_by_default(url: str) -> None:
    with pytest.raises(ssrf.BlockedURL):
        ssrf.check(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "scheme"),
        ("ftp://93.184.215.14/x", "scheme"),
        ("gopher://93.184.215.14/", "scheme"),
        ("https://user:pw@93.184.215.14/", "credentials"),
        ("https:///nohost", "host"),
        ("https://93.184.215.14:99999/", "valid URL"),
        ("https://93.184.215.14/a b", "whitespace"),
        ("https://" + "a" * 2100 + ".com/", "2048"),
        ("https://name.invalid/", "resolve"),
    ],
)
def test_malformed_urls_are_blocked_even_when_private_hosts_are_allowed(url: str, why: str) -> None:
    with pytest.raises(ssrf.BlockedURL, match=why):
        ssrf.check(url, allow_private=True)


def test_public_addresses_pass_and_private_ones_pass_only_when_allowed() -> None:
    target = ssrf.check("https://93.184.215.14:8443/hooks?x=1", allow_private=False)
    assert (target.host, target.port, target.path) == ("93.184.215.14", 8443, "/hooks?x=1")
    assert ssrf.check("http://127.0.0.1/", allow_private=True).addresses[0].is_loopback


class _Receiver(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.hits.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        else:
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_send_time_check_blocks_loopback_without_connecting(receiver: str) -> None:
    out = post(receiver + "/ok", b"{}", {}, timeout=2, allow_private=False)
    assert (out.status_code, out.ok) == (None, False)
    assert out.error == "blocked: host is or resolves to a loopback address"
    assert _Receiver.hits == []


def test_redirects_are_not_followed(receiver: str) -> None:
    out = post(receiver + "/redirect", b"{}", {}, timeout=2, allow_private=True)
    assert (out.status_code, out.ok, out.error) == (302, False, "HTTP 302")
    assert _Receiver.hits == ["/redirect"]
    ok = post(receiver + "/ok", b"{}", {}, timeout=2, allow_private=True)
    assert (ok.status_code, ok.ok) == (204, True)


def test_connection_refused_is_an_outcome_not_an_exception() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=2, allow_private=True)
    assert (out.status_code, out.error) == (None, "connection refused")
