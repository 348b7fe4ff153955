"""`tally export invoices` (issue 15) on both backends: 100,000 invoice lines (200 issued invoices of 500
lines, staged beneath the API) export in bounded memory. The CLI runs as its own process and reports its
peak RSS; a 1,000-line export is the baseline. Every line is written once with its exact amount:
line j of invoice i bills (j + 1) x 7 cents, so the CSV total is 200 x 7 x (1 + ... + 500) cents
= 200 x 7 x 125,250 = 175,350,000 cents = $1,753,500.00."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select

from tally.models.invoices import invoices
from tally.models.tenants import tenants
from tally.money.credit_types import USD_CENTS_ID
from tally.wire import encode_json, format_timestamp
from tests.conftest import Running

INVOICES, LINES = 200, 500
PRICE = 7


def _doc(inv_id: str, customer: str, contract: str, start: datetime, end: datetime) -> dict[str, object]:
    usd = {"id": USD_CENTS_ID, "name": "USD (cents)"}
    lines = [
        {
            "credit_type": usd,
            "name": f"Widget {j:03d}",
            "product_id": f"prod-{j:03d}",
            "quantity": Decimal(j + 1),
            "unit_price": Decimal(PRICE),
            "total": Decimal((j + 1) * PRICE),
            "type": "usage",
        }
        for j in range(LINES)
    ]
    total = Decimal(PRICE * LINES * (LINES + 1) // 2)
    return {
        "id": inv_id,
        "customer_id": customer,
        "contract_id": contract,
        "type": "USAGE",
        "status": "FINALIZED",
        "credit_type": usd,
        "start_timestamp": format_timestamp(start),
        "end_timestamp": format_timestamp(end),
        "issued_at": format_timestamp(end),
        "subtotal": total,
        "total": total,
        "line_items": lines,
        "invoice_adjustments": [],
    }


def _export(server: Running, out: Path, *args: str) -> tuple[int, str]:
    """Run the CLI in its own process; (peak RSS in KiB, stderr)."""
    code = (
        "import resource, sys\n"
        "from tally.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    argv = ["export", "invoices", "--tenant", "alpha", "--out", str(out), *args]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        env=server.server.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1]), done.stderr


def _on_a_terminal(server: Running, out: Path, *args: str) -> str:
    """Run the export with stderr on a pseudo-terminal; what the terminal showed."""
    import os
    import pty

    main, sub = pty.openpty()
    argv = ["export", "invoices", "--tenant", "alpha", "--out", str(out), *args]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tally", *argv], env=server.server.env, stdout=subprocess.DEVNULL, stderr=sub
    )
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(main)
    return b"".join(chunks).decode(errors="replace")


def test_hundred_thousand_lines_in_bounded_memory(server: Running, tmp_path: Path) -> None:
    customer = server.sdk().v1.customers.create(name="Export GmbH — 輸出").data.id
    start = datetime(2031, 1, 1, tzinfo=UTC)
    engine = server.server.engine()
    try:
        with engine.begin() as conn:
            tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == "alpha")).scalar_one()
            tag = uuid.uuid4().hex[:8]
            for i in range(INVOICES):
                inv_id, contract = str(uuid.uuid4()), f"bulk-{tag}-{i}"
                p0, p1 = start + timedelta(hours=i), start + timedelta(hours=i + 1)
                text = encode_json(_doc(inv_id, customer, contract, p0, p1))
                conn.execute(
                    insert(invoices).values(
                        id=inv_id,
                        tenant_id=tenant_id,
                        customer_id=customer,
                        contract_id=contract,
                        kind="USAGE",
                        status="FINALIZED",
                        period_start=p0,
                        period_end=p1,
                        void_seq=0,
                        created_at=p1,
                        finalized_at=p1,
                        snapshot=text.decode(),
                        content_hash=hashlib.sha256(text).hexdigest(),
                        number=f"BULK{tag}-{i + 1:06d}",
                        document={"due_date": format_timestamp(p1 + timedelta(days=30))},
                    )
                )
    finally:
        engine.dispose()
    window = ["--from", format_timestamp(start), "--customer", customer]
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    base_rss, _ = _export(server, small, *window, "--to", format_timestamp(start + timedelta(hours=2)))
    peak_rss, err = _export(server, big, *window, "--to", format_timestamp(start + timedelta(days=30)))
    assert f"wrote {INVOICES * LINES} line(s)" in err
    assert "exporting invoices" not in err  # no progress bar when stderr is not a terminal
    shown = _on_a_terminal(
        server, tmp_path / "tty.csv", *window, "--to", format_timestamp(start + timedelta(hours=2))
    )
    assert "exporting invoices" in shown
    assert "1/1" in shown  # rich's bar: invoices done / total
    with small.open(encoding="utf-8") as f:
        assert sum(1 for _ in csv.reader(f)) == 1 + LINES  # header + the invoice ending at start + 1 h
    total = Decimal(0)
    seen = set()
    with big.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            total += Decimal(row["amount"])
            seen.add((row["invoice_id"], row["product_id"]))
            assert row["currency"] == "USD"
            assert row["customer_name"] == "Export GmbH — 輸出"
    assert len(seen) == INVOICES * LINES  # every line once
    assert total == Decimal("1753500.00")
    first = next(csv.DictReader(big.open(encoding="utf-8")))
    assert first["invoice_number"] == f"BULK{tag}-000001"
    assert (first["quantity"], first["unit_price"], first["amount"]) == ("1", "0.07", "0.07")
    assert first["due_date"] == format_timestamp(start + timedelta(hours=1, days=30))
    # Bounded: 100x the lines costs far less than holding them (a parsed 500-line invoice is ~1 MB).
    grew_mib = (peak_rss - base_rss) / 1024
    print(f"RESULT export backend={server.backend} lines={INVOICES * LINES} rss_growth_mib={grew_mib:.1f}")
    assert grew_mib < 40, grew_mib
