"""The wire codecs: exact JSON numbers, RFC 3339 in every form the SDK sends, Z out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.errors import BadRequest
from tally.wire import decode_json, encode_json, format_timestamp, parse_decimal_string, parse_timestamp


def test_json_numbers_are_exact_decimals() -> None:
    doc = decode_json(b'{"a": 0.1, "b": 10, "c": 1.50, "d": [2.675]}')
    assert doc == {"a": Decimal("0.1"), "b": 10, "c": Decimal("1.50"), "d": [Decimal("2.675")]}
    assert isinstance(doc["a"], Decimal)


@pytest.mark.parametrize("raw", [b"{", b'{"a": NaN}', b'{"a": Infinity}', b"[1,]", b'{"a":1} trailing'])
def test_malformed_json_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_json(raw)


def test_decimals_encode_as_numbers() -> None:
    assert encode_json({"x": Decimal("0.10"), "y": Decimal("1200")}) == b'{"x":0.10,"y":1200}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.000Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.000", datetime(2024, 1, 1, tzinfo=UTC)),  # SDK's naive form = UTC
        ("2024-01-01T00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T01:30:00+01:30", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2023-12-31T19:00:00-05:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01t00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.123456789Z", datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2024-02-29T12:00:00Z", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_rfc3339_forms(text: str, expected: datetime) -> None:
    assert parse_timestamp(text, "t") == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:59:60Z",
        "20240101T000000Z",
        "10000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "2024-01-01",
        "",
        "2024-01-01T00:00:00+25:00",
        "yesterday",
    ],
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_timestamp(text, "t")


def test_timestamps_go_out_with_z() -> None:
    assert format_timestamp(datetime(2024, 3, 1, tzinfo=UTC)) == "2024-03-01T00:00:00Z"
    assert format_timestamp(datetime(2024, 3, 1, 0, 0, 0, 5000, tzinfo=UTC)) == "2024-03-01T00:00:00.005Z"


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_timestamp_round_trip(value: datetime) -> None:
    assert parse_timestamp(format_timestamp(value), "t") == value


@pytest.mark.parametrize(
    "text",
    [
        "1_000",
        " 12 ",
        "NaN",
        "sNaN",
        "Infinity",
        "\u0661\u0662\u0663",
        "\uff11\uff12",
        "1e999999999",
        "0x10",
        "",
    ],
)
def test_bad_decimal_strings(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_decimal_string(text, "q")


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20, places=8))
def test_decimal_strings_round_trip(value: Decimal) -> None:
    assert parse_decimal_string(str(value), "q") == value
