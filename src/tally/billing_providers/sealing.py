"""Secrets stored encrypted at rest (SEC-4): AES-256-GCM under a key derived from the server key and a
per-row salt, as webhook signing secrets are derived (webhooks/keys.py). A database dump alone holds no
usable Stripe key; losing the server key makes the stored key unreadable (connect Stripe again)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _key(server_key: bytes, salt: str, purpose: str) -> bytes:
    return hmac.new(server_key, f"{purpose}\n{salt}".encode(), hashlib.sha256).digest()


def seal(server_key: bytes, salt: str, purpose: str, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(server_key, salt, purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(server_key: bytes, salt: str, purpose: str, sealed: str) -> str | None:
    """The plaintext, or None if the server key changed since it was sealed."""
    raw = base64.b64decode(sealed)
    try:
        return AESGCM(_key(server_key, salt, purpose)).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
    except InvalidTag:
        return None
