"""Webhook signatures (SEC-5): Metronome's scheme, and the receiver-side checks of `verify`."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.webhooks import signing
from tally.webhooks.signing import VerificationError, format_date, parse_date, sign, verify

NOW = datetime(2026, 7, 15, 12, 0, 0, tzinfo=UTC)
OLD, NEW = "whsec_old-secret", "whsec_new-secret"
BODY = b'{"id":"evt-1","type":"invoice.finalized","properties":{"invoice_id":"inv-1","total":0.1}}'


def _headers(secret: str, body: bytes = BODY, when: datetime = NOW, **extra: str) -> dict[str, str]:
    date = format_date(when)
    return {
        "Date": date,
        "X-Metronome-Date": date,
        "Metronome-Webhook-Signature": sign(secret, date, body),
        **extra,
    }


def test_spec_test_vector() -> None:
    # SPEC §8.2: the reference Python snippet's expected value.
    got = sign("whsec-test", "2026-07-15T00:00:00Z", b'{"type":"invoice.finalized"}')
    assert got == "61fe7b47a6b033ef7b2ff5079c480689a9000936a60117f3a420a6225c306557"
    # ... and it is exactly HMAC-SHA256(secret, date + "\n" + body), lowercase hex.
    manual = hmac.new(b"whsec-test", b'2026-07-15T00:00:00Z\n{"type":"invoice.finalized"}', hashlib.sha256)
    assert got == manual.hexdigest()


def test_verify_accepts_a_fresh_signed_envelope_and_keeps_decimals_exact() -> None:
    seen: set[str] = set()
    envelope = verify([NEW], _headers(NEW), BODY, NOW, seen)
    assert envelope["id"] == "evt-1"
    assert str(envelope["properties"]["total"]) == "0.1"
    assert seen == {"evt-1"}


def test_verify_accepts_the_spec_vector_with_an_rfc3339_date() -> None:
    body = b'{"id":"x","type":"invoice.finalized"}'
    date = "2026-07-15T00:00:00Z"
    headers = {"X-Metronome-Date": date, "Metronome-Webhook-Signature": sign("whsec-test", date, body)}
    now = datetime(2026, 7, 15, 0, 4, 59, tzinfo=UTC)
    assert verify(["whsec-test"], headers, body, now, None)["id"] == "x"


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in _headers(NEW).items()}
    assert verify([NEW], headers, BODY, NOW, set())["id"] == "evt-1"
    assert verify([NEW], list(_headers(NEW).items()), BODY, NOW, set())["id"] == "evt-1"


def test_only_the_date_header_is_enough_for_older_integrations() -> None:
    headers = _headers(NEW)
    del headers["X-Metronome-Date"]
    assert verify([NEW], headers, BODY, NOW, set())["id"] == "evt-1"


def _reason(secrets: list[str], headers: dict[str, str], body: bytes = BODY, now: datetime = NOW) -> str:
    with pytest.raises(VerificationError) as info:
        verify(secrets, headers, body, now, set())
    return info.value.reason


def test_rejects_the_wrong_secret() -> None:
    assert _reason([NEW], _headers("whsec_someone-else")) == "signature mismatch"


def test_rejects_a_one_bit_body_flip() -> None:
    flipped = bytearray(BODY)
    flipped[10] ^= 0x01
    assert _reason([NEW], _headers(NEW), bytes(flipped)) == "signature mismatch"


def test_rejects_reserialized_json() -> None:
    # Same document, different bytes (spaces after separators): the receiver must verify raw bytes.
    reserialized = json.dumps(json.loads(BODY)).encode()
    assert reserialized != BODY
    assert _reason([NEW], _headers(NEW), reserialized) == "signature mismatch"


def test_rejects_missing_headers() -> None:
    headers = _headers(NEW)
    del headers["Metronome-Webhook-Signature"]
    assert "missing Metronome-Webhook-Signature" in _reason([NEW], headers)
    headers = _headers(NEW)
    del headers["Date"], headers["X-Metronome-Date"]
    assert "missing X-Metronome-Date" in _reason([NEW], headers)


def test_rejects_malformed_headers() -> None:
    assert (
        _reason([NEW], _headers(NEW) | {"Metronome-Webhook-Signature": "zz"}) == "malformed signature header"
    )
    headers = _headers(NEW) | {"X-Metronome-Date": "yesterday-ish"}
    assert _reason([NEW], headers) == "malformed date header"


@pytest.mark.parametrize("seconds", [-301, 301, -86400, 86400])
def test_rejects_a_date_more_than_five_minutes_away(seconds: int) -> None:
    # Signed at NOW + seconds, checked at NOW: 301 s is 1 s outside the ±300 s window.
    assert "5 minutes" in _reason([NEW], _headers(NEW, when=NOW + timedelta(seconds=seconds)))


@pytest.mark.parametrize("seconds", [-300, 0, 300])
def test_accepts_dates_inside_the_window(seconds: int) -> None:
    assert verify([NEW], _headers(NEW, when=NOW + timedelta(seconds=seconds)), BODY, NOW, set())


def test_rejects_a_replayed_id() -> None:
    seen: set[str] = set()
    verify([NEW], _headers(NEW), BODY, NOW, seen)
    # The same envelope again, even freshly signed a minute later, is a replay.
    with pytest.raises(VerificationError, match="replayed"):
        verify([NEW], _headers(NEW, when=NOW + timedelta(minutes=1)), BODY, NOW, seen)


def test_accepts_old_and_new_secret_during_rotation() -> None:
    assert verify([NEW, OLD], _headers(OLD), BODY, NOW, set())
    assert verify([NEW, OLD], _headers(NEW), BODY, NOW, set())
    # tally's sender puts the previous secret's signature in a second header during the window, so a
    # receiver that still holds only the old secret keeps verifying.
    date = format_date(NOW)
    both = _headers(NEW) | {"Tally-Webhook-Previous-Signature": sign(OLD, date, BODY)}
    assert verify([OLD], both, BODY, NOW, set())
    assert verify([NEW], both, BODY, NOW, set())
    assert _reason(["whsec_other"], both) == "signature mismatch"


def test_rejects_a_signed_body_that_is_not_an_envelope() -> None:
    body = b"[1, 2]"
    assert _reason([NEW], _headers(NEW, body), body) == "body is not a webhook envelope"


def test_comparison_is_constant_time() -> None:
    source = inspect.getsource(signing.verify)
    assert "hmac.compare_digest" in source
    assert "expected ==" not in source
    assert "== expected" not in source


def test_format_date_is_an_http_date() -> None:
    assert format_date(datetime(2026, 7, 15, tzinfo=UTC)) == "Wed, 15 Jul 2026 00:00:00 GMT"


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)))
def test_date_format_round_trips(when: datetime) -> None:
    assert parse_date(format_date(when)) == when.replace(microsecond=0)


@given(st.text(max_size=80))
def test_date_parser_never_crashes(text: str) -> None:
    try:
        parsed = parse_date(text)
    except VerificationError:
        return
    assert parsed.tzinfo is not None


@given(st.text(max_size=80))
def test_signature_parser_accepts_only_sha256_hex(text: str) -> None:
    try:
        got = signing.parse_signature(text)
    except VerificationError:
        return
    assert len(got) == 64
    assert set(got) <= set("0123456789abcdef")


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "Date",
                "X-Metronome-Date",
                "Metronome-Webhook-Signature",
                "Tally-Webhook-Previous-Signature",
                "Other",
            ]
        ),
        st.text(max_size=70),
    ),
    st.binary(max_size=60),
)
def test_verify_on_arbitrary_headers_only_raises_verification_errors(
    headers: dict[str, str], body: bytes
) -> None:
    try:
        verify([NEW], headers, body, NOW, set())
    except VerificationError:
        pass
