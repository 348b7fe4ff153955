"""The signed, expiring token of an embeddable dashboard URL (`/embed/{token}`).

A token is `base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part))`, the key derived from the
server key (tally.webhooks.keys.server_key, so every process serving the URL verifies it). The claims
name the tenant, the customer, the dashboard, its colour overrides and options, and the expiry (TTL after
the URL was issued, on the server's clock). Nothing is stored: a URL cannot be revoked before it expires,
except by changing the server key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TTL = timedelta(hours=24)
_LABEL = b"tally embeddable dashboards v1"
_MAX_TOKEN = 16 * 1024


class InvalidToken(Exception):
    """Tampered with, malformed, signed with another key, or expired: the page answers 403."""


@dataclass(frozen=True)
class Claims:
    tenant_id: str
    customer_id: str
    dashboard: str
    expires_at: datetime
    colors: tuple[tuple[str, str], ...]
    options: dict[str, str]
    group_keys: tuple[dict[str, Any], ...]


def _key(server_key: bytes) -> bytes:
    return hmac.new(server_key, _LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(server_key: bytes, body: str) -> str:
    return _b64(hmac.new(_key(server_key), body.encode(), hashlib.sha256).digest())


def issue(server_key: bytes, claims: Claims) -> str:
    doc = {
        "v": 1,
        "t": claims.tenant_id,
        "c": claims.customer_id,
        "d": claims.dashboard,
        "x": int(claims.expires_at.timestamp()),
        "co": [list(c) for c in claims.colors],
        "o": claims.options,
        "g": list(claims.group_keys),
    }
    body = _b64(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_sign(server_key, body)}"


def verify(server_key: bytes, token: str, now: datetime) -> Claims:
    body, dot, signature = token.partition(".")
    if not dot or len(token) > _MAX_TOKEN:
        raise InvalidToken("This dashboard link is not valid.")
    # Compared as text: two base64 spellings of one digest must not both pass.
    if not hmac.compare_digest(signature.encode(), _sign(server_key, body).encode()):
        raise InvalidToken("This dashboard link is not valid: it was changed or was not issued here.")
    try:
        doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims = Claims(
            tenant_id=str(doc["t"]),
            customer_id=str(doc["c"]),
            dashboard=str(doc["d"]),
            expires_at=datetime.fromtimestamp(int(doc["x"]), UTC),
            colors=tuple((str(n), str(v)) for n, v in doc["co"]),
            options={str(k): str(v) for k, v in doc["o"].items()},
            group_keys=tuple(doc["g"]),
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("This dashboard link is not valid.") from None
    if now >= claims.expires_at:
        raise InvalidToken("This dashboard link has expired; ask for a new one.")
    return claims
