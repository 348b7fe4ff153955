"""Webhook signatures in Metronome's scheme, for tally's sender and for receivers.

    Metronome-Webhook-Signature = lowercase hex HMAC-SHA256(key=secret, msg=<date> + "\\n" + <raw body>)

where <date> is the value of the `X-Metronome-Date` header (tally also sends the same value as `Date`,
which older integrations sign). During a secret rotation tally adds the signature made with the previous
secret in `Tally-Webhook-Previous-Signature`, so a receiver that still holds only the old secret keeps
verifying; `Metronome-Webhook-Signature` always carries the newest secret's signature.

This module uses the standard library only, so a receiver can vendor it:

    envelope = verify([new_secret, old_secret], request.headers, raw_body, now, seen_ids)

`verify` raises `VerificationError` (with a short `reason`) or returns the decoded envelope.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, MutableSet
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

SIGNATURE_HEADER = "Metronome-Webhook-Signature"
PREVIOUS_SIGNATURE_HEADER = "Tally-Webhook-Previous-Signature"
DATE_HEADER = "X-Metronome-Date"
HTTP_DATE_HEADER = "Date"
TOLERANCE = timedelta(minutes=5)

_HEX_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$",
    re.ASCII,
)


class VerificationError(ValueError):
    """The request is not an authentic, fresh, first-seen webhook; `reason` says why (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(secret: str, date: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `date + "\\n" + body` keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), date.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def format_date(when: datetime) -> str:
    """The date tally signs and sends: an HTTP-date (IMF-fixdate), e.g. `Wed, 15 Jul 2026 00:00:00 GMT`,
    valid in `Date` and `X-Metronome-Date` alike."""
    if when.tzinfo is None:
        raise ValueError("naive datetime")
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_date(value: str) -> datetime:
    """Parse a signed date: an HTTP-date (what tally sends) or an RFC 3339 timestamp with an offset."""
    text = value.strip()
    try:
        m = _RFC3339.match(text)
        if m:
            parsed = _rfc3339(m)
        elif text and len(text) <= 64 and text.isascii():
            parsed = parsedate_to_datetime(text)
        else:
            raise ValueError(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        raise VerificationError("malformed date header") from None
    if parsed.tzinfo is None:  # "-0000" in RFC 5322 means UTC with unknown local zone
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _rfc3339(m: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    parsed = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    if m.group(9):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        if offset >= timedelta(days=1):
            raise ValueError("offset out of range")
        parsed = parsed - offset if m.group(9) == "+" else parsed + offset
    return parsed


def parse_signature(value: str) -> str:
    """A signature header holds one lowercase-hex SHA-256 HMAC (surrounding spaces tolerated)."""
    text = value.strip().lower()
    if not _HEX_SIGNATURE.match(text):
        raise VerificationError("malformed signature header")
    return text


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k).lower(): str(v) for k, v in items}


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    now: datetime,
    seen_ids: MutableSet[str] | None,
) -> dict[str, Any]:
    """Check a received webhook and return its envelope `{"id", "type", "properties"}`.

    Rejects (VerificationError): a missing or malformed signature or date header, a date more than five
    minutes before or after `now`, a signature that matches none of `secrets` (pass the old and the new
    secret during a rotation), a body that is not the exact bytes that were signed, and an envelope id
    already in `seen_ids`. On success the id is added to `seen_ids`; a handler that then fails to
    process the event should discard it again so the sender's retry is accepted.
    """
    lowered = _lower(headers)
    raw_signature = lowered.get(SIGNATURE_HEADER.lower())
    if raw_signature is None:
        raise VerificationError(f"missing {SIGNATURE_HEADER} header")
    date = lowered.get(DATE_HEADER.lower()) or lowered.get(HTTP_DATE_HEADER.lower())
    if date is None:
        raise VerificationError(f"missing {DATE_HEADER} (or {HTTP_DATE_HEADER}) header")
    signatures = [parse_signature(raw_signature)]
    previous = lowered.get(PREVIOUS_SIGNATURE_HEADER.lower())
    if previous is not None:
        signatures.append(parse_signature(previous))
    signed_at = parse_date(date)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if abs(now - signed_at) > TOLERANCE:
        raise VerificationError("date header is more than 5 minutes away from now")
    matched = False
    for secret in secrets:
        expected = sign(secret, date, body)
        for candidate in signatures:
            # Constant-time; no short-circuit so timing does not reveal which secret matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise VerificationError("signature mismatch")
    try:
        envelope = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise VerificationError("body is not JSON") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("id"), str):
        raise VerificationError("body is not a webhook envelope")
    if seen_ids is not None:
        if envelope["id"] in seen_ids:
            raise VerificationError("replayed webhook id")
        seen_ids.add(envelope["id"])
    return envelope
