"""Server-rendered charts for the console: the geometry of inline SVG, computed here and drawn by templates
with SVG presentation attributes only (x, y, width, height); colours come from classes in console.css, so
the pages keep the Content-Security-Policy's `style-src 'self'` (no style attributes, no scripts).

Coordinates are pixels in a fixed viewBox that the page scales. They are geometry, never money: quantities
become floats only to place a bar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tally.invoices import render as invoice_render

WIDTH = 1000
SERIES = 6  # distinct colours; the smaller groups are drawn together as "other"


def _month_start(t: datetime) -> datetime:
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(t: datetime) -> datetime:
    return t.replace(year=t.year + 1, month=1) if t.month == 12 else t.replace(month=t.month + 1)


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


def _ticks(lo: datetime, hi: datetime, x_of: object, most: int = 7) -> list[Tick]:
    """Month starts between lo and hi (every k-th to keep at most `most`), or evenly spaced dates."""
    assert callable(x_of)
    months: list[datetime] = []
    t = _month_start(lo)
    if t < lo:
        t = _next_month(t)
    while t <= hi and len(months) < 1200:
        months.append(t)
        t = _next_month(t)
    if len(months) >= 2:
        step = -(-len(months) // most)
        return [Tick(x_of(m), f"{m:%Y-%m-%d}") for m in months[::step]]
    n = 4
    return [Tick(x_of(lo + (hi - lo) * i / n), f"{lo + (hi - lo) * i / n:%Y-%m-%d}") for i in range(n + 1)]


# --------------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Span:
    """One period to draw: [start, end), or open-ended when `end` is None."""

    start: datetime
    end: datetime | None
    label: str
    css: str = "span"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class SpanBar(Rect):
    label: str
    label_x: float
    label_y: float
    label_inside: bool
    open_ended: bool


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    bars: list[SpanBar]
    ticks: list[Tick]
    axis_y: float
    now_x: float | None


ROW = 30
BAR = 20
AXIS = 26


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def timeline(spans: list[Span], now: datetime) -> Timeline:
    """Each span on its own row against one shared time axis; open-ended spans run to the right edge."""
    now = _utc(now)
    starts = [_utc(s.start) for s in spans]
    ends = [_utc(s.end) for s in spans if s.end is not None]
    lo = min(starts, default=now)
    hi = max([*starts, *ends, now])
    if hi <= lo:
        hi = lo + timedelta(days=30)
    if any(s.end is None for s in spans) or now >= hi:
        hi = hi + max((hi - lo) * 0.15, timedelta(days=7))
    total = (hi - lo).total_seconds()

    def x_of(t: datetime) -> float:
        return round((min(max(_utc(t), lo), hi) - lo).total_seconds() / total * WIDTH, 1)

    bars = []
    for i, s in enumerate(spans):
        x0 = x_of(s.start)
        x1 = WIDTH if s.end is None else x_of(s.end)
        width = max(x1 - x0, 2.0)
        y = i * ROW + (ROW - BAR) / 2
        until = "open-ended" if s.end is None else f"until {_utc(s.end):%Y-%m-%d %H:%M}"
        inside = width >= 8 * len(s.label) + 12
        bars.append(
            SpanBar(
                x=x0,
                y=y,
                width=round(width, 1),
                height=BAR,
                css=s.css,
                title=f"{s.label}: from {_utc(s.start):%Y-%m-%d %H:%M}, {until} (UTC)",
                label=s.label,
                label_x=round(x0 + 6, 1) if inside else round(min(x0 + width + 6, WIDTH - 4), 1),
                label_y=y + BAR / 2 + 5,
                label_inside=inside,
                open_ended=s.end is None,
            )
        )
    axis_y = len(spans) * ROW + 2
    lo_now = lo <= now <= hi
    return Timeline(
        width=WIDTH,
        height=int(axis_y + AXIS),
        bars=bars,
        ticks=_ticks(lo, hi, x_of),
        axis_y=axis_y,
        now_x=x_of(now) if lo_now else None,
    )


# ------------------------------------------------------------------------------------------ bar chart


PLOT = 150
GUTTER = 60  # left of the plot: the peak's label


@dataclass(frozen=True)
class Legend:
    css: str
    name: str
    total: str


@dataclass
class BarChart:
    width: int
    height: int
    plot_height: int
    gutter: int = GUTTER
    rects: list[Rect] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    legend: list[Legend] = field(default_factory=list)
    maximum: str = "0"
    stacked: bool = True
    empty: bool = True


def _qty(v: Decimal) -> str:
    return invoice_render.quantity(v)


def bar_chart(
    windows: list[tuple[datetime, Decimal | None, dict[str, Decimal | None]]],
    *,
    additive: bool,
    none_label: str = "(no value)",
) -> BarChart:
    """One bar per window. With groups and an additive aggregation (COUNT, SUM) each bar is stacked by
    group: the largest groups get a colour each, the rest are drawn as "other", and usage whose group
    property was missing as `none_label`. Other aggregations (MAX, UNIQUE, LATEST) do not add up across
    groups, so their bars are the window's value alone and the groups are listed in the legend."""
    chart = BarChart(width=WIDTH, height=PLOT + 24, plot_height=PLOT, stacked=additive)
    if not windows:
        return chart
    sums: dict[str, Decimal] = {}  # per group: the period's total (additive) or its peak window
    for _, _, groups in windows:
        for name, v in groups.items():
            seen = sums.get(name, Decimal(0))
            sums[name] = seen + (v or Decimal(0)) if additive else max(seen, v or Decimal(0))
    ranked = sorted(sums, key=lambda n: (-sums[n], n))
    top = ranked[:SERIES] if len(ranked) <= SERIES else ranked[: SERIES - 1]
    css = {n: f"series-{i}" for i, n in enumerate(top)}
    totals = [v or Decimal(0) for _, v, _ in windows]
    peak = max(totals, default=Decimal(0))
    chart.maximum = _qty(peak)
    chart.empty = peak == 0
    scale = float(peak) if peak > 0 else 1.0
    slot = (WIDTH - GUTTER) / len(windows)
    width = round(max(slot * 0.8, 1.0), 2)
    for i, (start, value, groups) in enumerate(windows):
        x = round(GUTTER + i * slot + (slot - width) / 2, 2)
        day = f"{start:%Y-%m-%d}"
        total = value or Decimal(0)
        parts: list[tuple[str, str, Decimal]] = []
        if additive and groups:
            other = sum((v or Decimal(0) for n, v in groups.items() if n not in css), Decimal(0))
            parts = [(css[n], n, groups.get(n) or Decimal(0)) for n in top]
            parts.append(("series-other", "other", other))
            parts.append(("series-none", none_label, total - sum((p[2] for p in parts), Decimal(0))))
        else:
            parts = [("series-total", "total", total)]
        y = float(PLOT)
        for cls, name, v in parts:
            if v <= 0:
                continue
            h = float(v) / scale * PLOT
            y -= h
            chart.rects.append(Rect(x, round(y, 2), width, round(h, 2), cls, f"{day} · {name}: {_qty(v)}"))
    step = max(1, -(-len(windows) // 6))
    chart.ticks = [
        Tick(round(GUTTER + i * slot + slot / 2, 1), f"{windows[i][0]:%m-%d}")
        for i in range(0, len(windows), step)
    ]
    grand = sum(totals, Decimal(0))
    if additive:
        named = [Legend(css.get(n, "series-other"), n, _qty(sums[n])) for n in ranked]
        rest = grand - sum(sums.values(), Decimal(0))
        if sums and rest > 0:
            named.append(Legend("series-none", none_label, _qty(rest)))
        chart.legend = named or [Legend("series-total", "total", _qty(grand))]
    else:
        chart.legend = [Legend("series-total", "peak", _qty(peak))]
        chart.legend += [Legend("series-other", f"{n} (peak)", _qty(sums[n])) for n in ranked]
    return chart
