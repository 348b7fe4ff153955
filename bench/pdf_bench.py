"""Invoice PDF render time: the demo invoice of scripts/example_invoice.py (tally's rating engine, its
Jinja2 template, WeasyPrint) with 20 and with 500 lines, CJK + Latin + Greek + Cyrillic + € text on every
page. Prints the p50 and p95 of the render (template + PDF, no database: a finalized PDF is then cached).

    .venv/bin/python bench/pdf_bench.py [--runs 15] [--long-runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from example_invoice import demo

from tally.invoices import render


def _measure(lines: int, runs: int) -> tuple[float, float, int, int]:
    doc, parties, name = demo(lines)
    render.pdf(render.context(doc, parties, name))  # warm-up: imports, fonts, template compile
    times = []
    size = 0
    for _ in range(runs):
        began = time.perf_counter()
        body = render.pdf(render.context(doc, parties, name))
        times.append((time.perf_counter() - began) * 1000)
        size = len(body)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, size, len(doc["line_items"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15, help="renders of the 20-line invoice")
    parser.add_argument("--long-runs", type=int, default=3, help="renders of the 500-line invoice")
    args = parser.parse_args()
    for lines, runs in ((20, args.runs), (500, args.long_runs)):
        p50, p95, size, items = _measure(lines, runs)
        print(
            f"RESULT pdf_bench lines={lines} line_items={items} runs={runs} p50_ms={p50:.0f} "
            f"p95_ms={p95:.0f} pdf_bytes={size} engine=weasyprint"
        )


if __name__ == "__main__":
    main()
