"""A small, dependency-free PDF of an invoice: PDF 1.4, one built-in font (Courier, so columns line
up), plain text lines, as many pages as the lines need. Amounts are printed exactly as stored, in the
invoice's credit type."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tally.money.format import plain

_LINES_PER_PAGE = 48
_FONT_SIZE = 10
_LEADING = 14


def _esc(text: str) -> str:
    """Latin-1 text for a PDF string literal; characters outside Latin-1 become '?'."""
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return (
        safe.replace("\\", "\\\\")
        .replace("(", "\\(")
        .replace(")", "\\)")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _amount(value: Any) -> str:
    if value is None:
        return ""
    return plain(value if isinstance(value, Decimal) else Decimal(str(value)))


def invoice_lines(doc: dict[str, Any], customer_name: str) -> list[tuple[str, int]]:
    """(text, font size) lines of the document."""
    ct = doc["credit_type"]["name"]
    out: list[tuple[str, int]] = [
        (f"Invoice {doc['id']}", 16),
        ("", _FONT_SIZE),
        (f"Customer: {customer_name} ({doc['customer_id']})", _FONT_SIZE),
        (f"Contract: {doc.get('contract_id', '')}", _FONT_SIZE),
        (f"Type: {doc['type']}    Status: {doc['status']}", _FONT_SIZE),
        (f"Service period: {doc.get('start_timestamp', '')} to {doc.get('end_timestamp', '')}", _FONT_SIZE),
        (f"Issued: {doc.get('issued_at', '')}    Amounts in {ct}", _FONT_SIZE),
        ("", _FONT_SIZE),
        (f"{'Item':<52}{'Quantity':>14}{'Total':>16}", _FONT_SIZE),
    ]
    for li in doc["line_items"]:
        name = li["name"][:50]
        out.append((f"{name:<52}{_amount(li.get('quantity')):>14}{_amount(li['total']):>16}", _FONT_SIZE))
    out += [
        ("", _FONT_SIZE),
        (f"{'Subtotal':<52}{'':>14}{_amount(doc.get('subtotal')):>16}", _FONT_SIZE),
        (f"{'Total due':<52}{'':>14}{_amount(doc['total']):>16}", _FONT_SIZE),
    ]
    return out


def render(doc: dict[str, Any], customer_name: str) -> bytes:
    lines = invoice_lines(doc, customer_name)
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = []
    # 1: catalog, 2: pages, 3: font; then per page: page object, content stream
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    for i, page in enumerate(pages):
        stream = ["BT", f"{_LEADING} TL", "50 800 Td"]
        for text, size in page:
            stream.append(f"/F1 {size} Tf ({_esc(text)}) Tj T*")
        stream.append("ET")
        content = "\n".join(stream).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(
            b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
