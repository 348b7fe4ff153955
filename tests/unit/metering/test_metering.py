"""The pure metering core: filters, quantities, aggregations and windows (no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.metering import (
    Accumulator,
    MetricDef,
    MetricIndex,
    PropertyFilter,
    hour_of,
    hour_start,
    quantity,
    reference_usage,
    string_form,
    windows,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class E:
    transaction_id: str
    event_type: str
    timestamp: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    customer_id: str = "c"


def metric(agg: str, **kw: Any) -> MetricDef:
    key = kw.pop("key", None if agg == "COUNT" else "n")
    return MetricDef(id="m", aggregation_type=agg, aggregation_key=key, **kw)


# --- values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("12.5", Decimal("12.5")),
        ("-3", Decimal("-3")),
        ("1e3", Decimal("1e3")),
        (".5", Decimal("0.5")),
        (7, Decimal(7)),
        (Decimal("0.10"), Decimal("0.10")),
        ("1_000", None),
        (" 1", None),
        ("NaN", None),
        ("Infinity", None),
        ("abc", None),
        ("", None),
        (True, None),
        (None, None),
        ({"a": 1}, None),
        ("1e100", None),  # beyond 38 integer digits
        ("0.000000000000000000001", None),  # beyond 20 decimal places
    ],
)
def test_quantity_parsing(raw: Any, want: Decimal | None) -> None:
    assert quantity(raw) == want


def test_string_forms() -> None:
    assert string_form("x") == "x"
    assert string_form(Decimal("1.50")) == "1.50"
    assert string_form(3) == "3"
    assert string_form(True) == "true"
    assert string_form(None) is None


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12))
def test_numeric_strings_and_numbers_parse_to_the_same_exact_value(d: Decimal) -> None:
    assert quantity(str(d)) == d
    assert quantity(d) == d


# --- filters -------------------------------------------------------------------------------------------


def test_event_type_filter() -> None:
    m = metric("COUNT", event_types_in=frozenset({"a", "b"}), event_types_not_in=frozenset({"b"}))
    assert m.contribution("a", {}) is not None
    assert m.contribution("b", {}) is None
    assert m.contribution("c", {}) is None


@pytest.mark.parametrize(
    ("flt", "props", "passes"),
    [
        (PropertyFilter("r", exists=True), {"r": "x"}, True),
        (PropertyFilter("r", exists=True), {}, False),
        (PropertyFilter("r", exists=True), {"r": None}, False),  # null counts as absent
        (PropertyFilter("r", exists=False), {}, True),
        (PropertyFilter("r", exists=False), {"r": "x"}, False),
        (PropertyFilter("r"), {}, True),
        (PropertyFilter("r", in_values=frozenset({"EU"})), {"r": "EU"}, True),
        (PropertyFilter("r", in_values=frozenset({"EU"})), {"r": "eu"}, False),  # exact compare
        (PropertyFilter("r", in_values=frozenset({"EU"})), {}, False),
        (PropertyFilter("r", not_in_values=frozenset({"EU"})), {}, True),
        (PropertyFilter("r", not_in_values=frozenset({"EU"})), {"r": "EU"}, False),
        (PropertyFilter("r", in_values=frozenset({"5"})), {"r": 5}, True),  # string form of a number
        (PropertyFilter("r", in_values=frozenset({"5"})), {"r": Decimal("5.0")}, False),
        (PropertyFilter("r", in_values=frozenset({"true"})), {"r": True}, True),
    ],
)
def test_property_filter(flt: PropertyFilter, props: dict[str, Any], passes: bool) -> None:
    assert flt.passes(props) is passes


def test_spec_worked_example() -> None:
    """SPEC §2.7: US-East 648 + 352, EU 1000; an event without region fails `exists`."""
    m = MetricDef.of(
        "m",
        "SUM",
        "bytes",
        {"in_values": ["page_load"]},
        [{"name": "bytes", "exists": True}, {"name": "region", "exists": True}],
        [["region"]],
    )
    evs = [
        E("a", "page_load", T0, {"bytes": "648", "region": "US-East"}),
        E("b", "page_load", T0, {"bytes": "1000", "region": "EU"}),
        E("c", "page_load", T0, {"bytes": "352", "region": "US-East"}),
        E("d", "page_load", T0, {"bytes": "5"}),
        E("e", "other", T0, {"bytes": "7", "region": "EU"}),
    ]
    rows = reference_usage(m, evs, T0, T0 + timedelta(days=1), "NONE", group_key=["region"])
    assert [(r.group, r.value) for r in rows] == [(("EU",), Decimal(1000)), (("US-East",), Decimal(1000))]


def test_non_numeric_aggregation_value_does_not_match_sum_max_latest() -> None:
    for agg in ("SUM", "MAX", "LATEST"):
        assert metric(agg).contribution("t", {"n": "abc"}) is None
        assert metric(agg).contribution("t", {}) is None
    assert metric("UNIQUE").contribution("t", {"n": "abc"}) is not None
    assert metric("COUNT").contribution("t", {"n": "abc"}) is not None


def test_missing_group_property_is_a_null_group_value() -> None:
    m = metric("COUNT", group_keys=(("b", "a"),))
    assert m.group_properties == ("a", "b")
    assert m.group_values({"a": "x"}) == ("x", None)


def test_index_candidates() -> None:
    typed = MetricDef(id="t", aggregation_type="COUNT", event_types_in=frozenset({"x"}))
    untyped = MetricDef(id="u", aggregation_type="COUNT")
    idx = MetricIndex([typed, untyped])
    assert [m.id for m in idx.candidates("x")] == ["t", "u"]
    assert [m.id for m in idx.candidates("y")] == ["u"]


# --- aggregation ---------------------------------------------------------------------------------------

values = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000).map(str),
    st.integers(-1000, 1000),
    st.sampled_from(["x", "y", "", None, True]),
)
events_st = st.lists(
    st.tuples(
        st.integers(0, 3 * 24 * 60 - 1),
        st.sampled_from(["t", "u"]),
        values,
        st.sampled_from(["a", "b", None]),
    ),
    max_size=60,
)


def _events(raw: list[tuple[int, str, Any, str | None]]) -> list[E]:
    out = []
    for i, (minute, et, v, g) in enumerate(raw):
        props: dict[str, Any] = {}
        if v is not None:
            props["n"] = v
        if g is not None:
            props["g"] = g
        out.append(E(f"tx{i:03d}", et, T0 + timedelta(minutes=minute), props))
    return out


@settings(max_examples=150)
@given(events_st, st.sampled_from(["COUNT", "SUM", "MAX", "LATEST"]))
def test_windows_partition_the_whole_range(raw: list[Any], agg: str) -> None:
    m = metric(agg, event_types_in=frozenset({"t"}))
    evs = _events(raw)
    end = T0 + timedelta(days=3)
    whole = reference_usage(m, evs, T0, end, "NONE")[0].value
    for size in ("HOUR", "DAY"):
        parts = [r.value for r in reference_usage(m, evs, T0, end, size)]
        assert len(parts) == (72 if size == "HOUR" else 3)
        present = [p for p in parts if p is not None]
        if agg in ("COUNT", "SUM"):
            assert sum(present, Decimal(0)) == whole
        elif agg == "MAX":
            assert (max(present) if present else None) == whole
        else:
            assert (present[-1] if present else None) == whole


@settings(max_examples=150)
@given(events_st, st.sampled_from(["COUNT", "SUM", "MAX", "LATEST", "UNIQUE"]), st.randoms())
def test_sum_matches_direct_computation_and_order_does_not_matter(raw: list[Any], agg: str, rnd: Any) -> None:
    m = metric(agg)
    evs = _events(raw)
    end = T0 + timedelta(days=3)
    got = reference_usage(m, evs, T0, end, "NONE")[0].value
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    assert reference_usage(m, shuffled, T0, end, "NONE")[0].value == got
    nums = [(e.timestamp, e.transaction_id, quantity(e.properties.get("n"))) for e in evs]
    numeric = [n for n in nums if n[2] is not None]
    if agg == "COUNT":
        assert got == len(evs)
    elif agg == "SUM":
        assert got == sum((n[2] for n in numeric if n[2] is not None), Decimal(0))
    elif agg == "MAX":
        assert got == (max(n[2] for n in numeric) if numeric else None)  # type: ignore[type-var]
    elif agg == "LATEST":
        assert got == (max(numeric)[2] if numeric else None)
    else:
        assert got == len({string_form(e.properties["n"]) for e in evs if e.properties.get("n") is not None})


@settings(max_examples=100)
@given(events_st, st.integers(1, 10))
def test_batched_accumulators_merge_to_the_whole(raw: list[Any], batch: int) -> None:
    """Rollups fold batches independently and merge them; merging must equal folding everything at once."""
    m = metric("SUM")
    evs = _events(raw)
    whole = Accumulator()
    merged = Accumulator()
    for i in range(0, len(evs), batch):
        part = Accumulator()
        for e in evs[i : i + batch]:
            c = m.contribution(e.event_type, e.properties)
            if c is not None:
                part.add(c, e.timestamp, e.transaction_id)
                whole.add(c, e.timestamp, e.transaction_id)
        merged.count += part.count
        merged.total += part.total
    assert (merged.count, merged.total) == (whole.count, whole.total)


def test_latest_ties_go_to_the_greater_transaction_id() -> None:
    m = metric("LATEST")
    evs = [
        E("b", "t", T0, {"n": "2"}),
        E("a", "t", T0, {"n": "1"}),
        E("c", "t", T0 - timedelta(seconds=1), {"n": "9"}),
    ]
    assert reference_usage(m, evs, T0 - timedelta(days=1), T0 + timedelta(days=1), "NONE")[0].value == 2


def test_empty_windows() -> None:
    end = T0 + timedelta(days=1)
    assert reference_usage(metric("COUNT"), [], T0, end, "NONE")[0].value == 0
    assert reference_usage(metric("SUM"), [], T0, end, "NONE")[0].value == 0
    assert reference_usage(metric("UNIQUE"), [], T0, end, "NONE")[0].value == 0
    assert reference_usage(metric("MAX"), [], T0, end, "NONE")[0].value is None
    assert reference_usage(metric("LATEST"), [], T0, end, "NONE")[0].value is None


def test_exact_sum_of_a_million_tenths() -> None:
    acc = Accumulator()
    c = metric("SUM").contribution("t", {"n": "0.1"})
    assert c is not None
    for _ in range(1_000_000):
        acc.add(c, T0, "x")
    assert acc.total == Decimal("100000.0")


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_hour_buckets(ts: datetime) -> None:
    h = hour_of(ts)
    assert hour_start(h) <= ts < hour_start(h + 1)


def test_window_shapes() -> None:
    end = T0 + timedelta(days=2)
    assert windows(T0, end, "NONE") == [(T0, end)]
    assert len(windows(T0, end, "HOUR")) == 48
    assert windows(T0, end, "DAY")[1] == (T0 + timedelta(days=1), end)
