"""The example invoice in docs/: a demo contract rated by tally's own engine, rendered by tally's own
template and PDF renderer, then rasterized with poppler's pdftoppm (installed by dev.py / .ci/run).

    .venv/bin/python scripts/example_invoice.py            # writes docs/example-invoice.png (page 1)
    .venv/bin/python scripts/example_invoice.py --lines 500 --pdf /tmp/long.pdf

Demo scenario (USD, amounts in cents as tally stores them), March 2026:
  every fifth product tiered (first 10,000 at 0.5 cents, next 90,000 at 0.25, then 0.1; 150,000 used ->
  $50.00 + $225.00 + $50.00 = $325.00), the others flat; a $100.00 credit and a $500.00 prepaid commit are
  drawn against the charges.
`demo(lines)` is shared with bench/pdf_bench.py.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tally.invoices import render
from tally.invoices.wire import invoice_wire
from tally.money.credit_types import FIAT_BY_ID
from tally.rating import Period, rate_usage_invoice
from tally.rating.inputs import (
    AccessSegment,
    Commit,
    CommitType,
    Contract,
    Product,
    Rate,
    RateCard,
    RateType,
    Tier,
    UsageRecord,
)

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 1, 1, tzinfo=UTC)
MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
CUSTOMER = "株式会社テスト — Zürich GmbH €"
_NAMES = ["Inference tokens", "Embeddings API", "Storage GB-hours", "Egress GB", "Fine-tuning hours"]


def demo(lines: int = 6, status: str = "FINALIZED") -> tuple[dict[str, Any], render.Parties, str]:
    """A rated invoice of `lines` usage lines (every fifth tiered), as the PDF endpoint would see it."""
    products = {f"p{i}": Product(f"p{i}", _name(i)) for i in range(lines)}
    rates = []
    for i in range(lines):
        if i % 5 == 0:
            tiers = (
                Tier(Decimal("0.5"), Decimal(10000)),
                Tier(Decimal("0.25"), Decimal(90000)),
                Tier(Decimal("0.1")),
            )
            rates.append(Rate(f"p{i}", RateType.TIERED, START, tiers=tiers))
        else:
            rates.append(Rate(f"p{i}", RateType.FLAT, START, price=Decimal(1 + i % 7) * Decimal("1.5")))
    end = datetime(2027, 1, 1, tzinfo=UTC)
    contract = Contract(
        "demo-contract",
        "demo-customer",
        START,
        RateCard("rc", tuple(rates), product_order=tuple(products)),
        products,
        commits=(
            Commit(
                "pc",
                CommitType.PREPAID,
                (AccessSegment("pc0", Decimal(50000), START, end),),
                priority=Decimal(2),
            ),
        ),
        credits=(
            Commit(
                "cr",
                CommitType.CREDIT,
                (AccessSegment("cr0", Decimal(10000), START, end),),
                priority=Decimal(1),
            ),
        ),
    )
    usage = [
        UsageRecord(
            f"p{i}",
            MARCH.starting_at + timedelta(days=3, hours=i % 24),
            Decimal(150000 if i % 5 == 0 else 40 + 13 * i),
        )
        for i in range(lines)
    ]
    inv = rate_usage_invoice(contract, usage, MARCH)
    names = {ct.id: ct.name for ct in FIAT_BY_ID.values()}
    names.update({"pc": "Prepaid commit", "cr": "Welcome credit"})
    doc = invoice_wire(inv, invoice_id="0b6c4f1e-5d0a-5f7e-9d62-3c1d8f3a9e10", status=status, names=names)
    parties = render.Parties(
        issuer={
            "legal_name": "Tally Demo Cloud GmbH",
            "address_lines": ["Musterstraße 12", "10115 Berlin", "Germany"],
            "tax_id": "DE123456789",
            "contact_email": "billing@tally.example",
            "footer_text": "Please pay by bank transfer to IBAN DE00 0000 0000 0000 0000 00, "
            "quoting the invoice number.\n"
            "Ευχαριστούμε · Спасибо · ありがとうございます",
        },
        bill_to={
            "legal_name": CUSTOMER,
            "address_lines": ["Bahnhofstrasse 1", "8001 Zürich", "Switzerland"],
            "tax_id": "CHE-123.456.789",
            "billing_email": "ap@example.test",
        },
        number="ACME-000042" if status != "DRAFT" else None,
        due_date=MARCH.ending_before + timedelta(days=30),
        logo=("image/svg+xml", _LOGO),
    )
    return doc, parties, CUSTOMER


def _name(i: int) -> str:
    base = _NAMES[i % len(_NAMES)]
    return base if i < len(_NAMES) else f"{base} · region {i:03d}"


_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="180" height="44" viewBox="0 0 180 44">'
    b'<rect x="0" y="4" width="36" height="36" rx="8" fill="#1f5bd8"/>'
    b'<path d="M10 14h16M18 14v18" stroke="#fff" stroke-width="4" stroke-linecap="round"/>'
    b'<text x="46" y="31" font-family="DejaVu Sans" font-size="24" font-weight="bold" fill="#1d2430">'
    b"tally</text>"
    b"</svg>"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=6)
    parser.add_argument("--status", default="FINALIZED", choices=["DRAFT", "FINALIZED", "VOID"])
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "example-invoice.png")
    parser.add_argument("--pdf", type=Path, default=None, help="also keep the PDF here")
    args = parser.parse_args()
    doc, parties, name = demo(args.lines, args.status)
    body = render.pdf(render.context(doc, parties, name))
    if args.pdf is not None:
        args.pdf.write_bytes(body)
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "invoice.pdf"
        src.write_bytes(body)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(src),
                str(Path(d) / "page"),
            ],
            check=True,
        )
        args.png.write_bytes((Path(d) / "page.png").read_bytes())
    print(f"wrote {args.png} (page 1 of the {args.lines}-line demo invoice, {len(body)} byte PDF)")


if __name__ == "__main__":
    main()
