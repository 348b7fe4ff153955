"""The test suite's egress guard: no process the suite starts may connect past loopback.

Python imports `sitecustomize` at start-up from the first directory on sys.path that has one. The suite
puts this directory on PYTHONPATH (tests/conftest.py), so the pytest process and every Python process it
starts (servers, workers, the SDK smoke script) run with it. When `EGRESS_GUARD_LOG` names a file:

- a connect or datagram to an address outside 127.0.0.0/8 and ::1 is refused before it leaves the machine
  (OSError ENETUNREACH) and recorded in that file; the suite fails if the file is not empty at its end;
- a name lookup of anything but `localhost` fails like an offline resolver (a DNS query would itself leave
  the machine), without being recorded.

This is the second line of defence: servers the suite starts also run with TALLY_OUTBOUND_LOOPBACK_ONLY=1,
so tally itself refuses such deliveries and records why.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from typing import Any

LOG = os.environ.get("EGRESS_GUARD_LOG")
_INET = (socket.AF_INET, socket.AF_INET6)


def _is_loopback_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _literal(host: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _allowed(host: object) -> bool:
    if host in (None, "", b""):
        return True
    address = _literal(host)
    if address is not None:
        return address.is_loopback
    return _is_loopback_name(str(host))


def _refuse(what: str, target: object) -> None:
    assert LOG is not None
    argv = " ".join(sys.argv)[:160]
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(f"pid={os.getpid()} {what} {target!r} argv={argv}\n")
    raise OSError(errno.ENETUNREACH, f"egress guard: {what} to {target!r} refused (tests stay on loopback)")


def install() -> None:
    if not LOG or getattr(socket, "_egress_guard", False):
        return
    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in _INET and not _allowed(address[0]):
            _refuse("connect", address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in _INET and not _allowed(address[0]):
            _refuse("connect", address)
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1]
        if self.family in _INET and not _allowed(address[0]):
            _refuse("sendto", address)
        return sendto(self, data, *args)  # type: ignore[arg-type]

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and _literal(host) is None and not _is_loopback_name(str(host)):
            raise socket.gaierror(socket.EAI_NONAME, "egress guard: name lookups would leave the machine")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = guarded_getaddrinfo
    socket._egress_guard = True  # type: ignore[attr-defined]


install()
