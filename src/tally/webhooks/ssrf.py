"""Webhook URL policy (SEC-7): tally only calls public http(s) addresses unless a self-hoster opts in.

A URL is checked when it is registered (a 400 names the problem) and again at every send: the host is
resolved, every address it resolves to must be public, and the connection then goes to one of exactly
those checked addresses (so a DNS answer that changes between check and connect cannot redirect it).
Redirects are never followed. `TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS=1` lifts the address rule only; the
scheme rule always holds.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedURL(Exception):
    """The URL may not be called; the message is safe to show (it never includes secrets)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path + query, as sent in the request line
    addresses: tuple[IPAddress, ...]


def parse(url: str) -> SplitResult:
    """Check the URL's shape: http(s), a host, no credentials, a valid port."""
    if len(url) > MAX_URL_LENGTH:
        raise BlockedURL(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise BlockedURL("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedURL("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedURL("scheme must be http or https")
    if not parts.hostname:
        raise BlockedURL("must name a host")
    if parts.username is not None or parts.password is not None:
        raise BlockedURL("must not contain credentials")
    if port == 0:
        raise BlockedURL("port must be between 1 and 65535")
    return parts


def forbidden(address: IPAddress) -> str | None:
    """Why an address may not be called by default (None if it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise BlockedURL("host does not resolve") from None
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        seen[ipaddress.ip_address(text)] = None
    if not seen:
        raise BlockedURL("host does not resolve")
    return tuple(seen)


LOOPBACK_NAMES = ("localhost",)


def _loopback_only(host: str) -> None:
    """`TALLY_OUTBOUND_LOOPBACK_ONLY`: refuse, before any DNS lookup, a host that is not a loopback
    address or `localhost` (a lookup of another name would itself leave the machine)."""
    name = host.lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address is None or not address.is_loopback:
        raise BlockedURL("outbound connections are confined to loopback (TALLY_OUTBOUND_LOOPBACK_ONLY)")


def check(url: str, *, allow_private: bool, loopback_only: bool = False) -> Target:
    """Parse and resolve `url`; raise BlockedURL unless every address is allowed."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if loopback_only:
        _loopback_only(host)
    addresses = resolve(host, port)
    if loopback_only and not all(a.is_loopback for a in addresses):
        raise BlockedURL("outbound connections are confined to loopback (TALLY_OUTBOUND_LOOPBACK_ONLY)")
    if not allow_private:
        for address in addresses:
            reason = forbidden(address)
            if reason is not None:
                raise BlockedURL(f"host is or resolves to a {reason} address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses)
