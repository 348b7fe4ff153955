"""One webhook POST: to an address checked by the URL policy, with a short timeout, no redirects.

The standard library's http.client is used on purpose: it never follows redirects, and a connection
subclass can connect to the exact address the policy approved while TLS still verifies the host name.
The timeout applies to each socket operation (connect, send, the status line and headers); the response
body is not read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from tally.webhooks.ssrf import BlockedURL, IPAddress, Target, check

_TLS = ssl.create_default_context()


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None  # short and secret-free: it is stored and shown by events/list

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code <= 299


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=_TLS)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = _TLS.wrap_socket(raw, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool,
    loopback_only: bool = False,
) -> Outcome:
    """POST `body`; any 2xx status is an ack. Never raises for network or policy failures."""
    try:
        target = check(url, allow_private=allow_private, loopback_only=loopback_only)
    except BlockedURL as exc:
        return Outcome(None, f"blocked: {exc}")
    return _send(target, body, headers, timeout)


def _send(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    cls = _PinnedTLS if target.scheme == "https" else _Pinned
    conn = cls(target.host, target.port, target.addresses[0], timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        return Outcome(response.status, None if 200 <= response.status <= 299 else f"HTTP {response.status}")
    except TimeoutError:
        return Outcome(None, "timeout")
    except http.client.RemoteDisconnected:
        return Outcome(None, "connection closed before a response")
    except ConnectionResetError:
        return Outcome(None, "connection reset")
    except BrokenPipeError:
        return Outcome(None, "connection closed while sending")
    except ssl.SSLError as exc:
        return Outcome(None, f"TLS error: {exc.reason or type(exc).__name__}"[:200])
    except ConnectionRefusedError:
        return Outcome(None, "connection refused")
    except http.client.HTTPException as exc:
        return Outcome(None, f"invalid HTTP response ({type(exc).__name__})")
    except OSError as exc:
        return Outcome(None, f"connection failed ({type(exc).__name__})")
    finally:
        conn.close()
