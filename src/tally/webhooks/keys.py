"""Webhook signing secrets, derived rather than stored (SEC-4: a database dump holds no usable secret).

An endpoint row keeps only a random salt; its secret is `whsec_` + base64url(HMAC-SHA256(server key,
salt)). The server key comes from `TALLY_SECRET_KEY`, or else from `<data_dir>/secret.key` (32 random
bytes, created on first use with mode 0600). Every process that serves or delivers webhooks must see the
same key: with PostgreSQL and several hosts, set `TALLY_SECRET_KEY`. Losing the key changes every
endpoint's secret (rotate them all to hand receivers the new ones).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from tally.settings import Settings

SECRET_PREFIX = "whsec_"
_KEY_FILE = "secret.key"
_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def server_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return hashlib.sha256(b"tally server key\n" + settings.secret_key.encode()).digest()
    path = (settings.data_dir / _KEY_FILE).resolve()
    with _lock:
        key = _cache.get(str(path))
        if key is None:
            key = _load_or_create(path)
            _cache[str(path)] = key
        return key


def _load_or_create(path: Path) -> bytes:
    """Read the key file, creating it atomically if absent: the key is written to a private temporary
    file that is then hard-linked into place, so a concurrent process never reads a half-written key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{_KEY_FILE}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won the race; use its key
        finally:
            tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def new_salt() -> str:
    return secrets.token_hex(16)


def derive(key: bytes, salt: str) -> str:
    digest = hmac.new(key, b"webhook signing secret\n" + salt.encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")
