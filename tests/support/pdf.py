"""Reading PDFs back as a person would: poppler's pdftotext/pdfinfo/pdfimages (installed by dev.py and
.ci/run), never by grepping the PDF bytes."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path


def _with_file(body: bytes, *cmd: str) -> str:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "doc.pdf"
        path.write_bytes(body)
        out = subprocess.run([*cmd, str(path), "-"], capture_output=True, check=True, timeout=120)
        return out.stdout.decode()


def text(body: bytes, *, raw: bool = False) -> str:
    """The text as pdftotext reads it; `raw` also keeps rotated text (the DRAFT/VOID watermark)."""
    return _with_file(body, "pdftotext", "-enc", "UTF-8", *(["-raw"] if raw else []))


def pages(body: bytes) -> int:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "doc.pdf"
        path.write_bytes(body)
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, timeout=60).stdout
    found = re.search(r"^Pages:\s+(\d+)", out.decode(), re.M)
    assert found is not None, out
    return int(found.group(1))


def images(body: bytes) -> int:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "doc.pdf"
        path.write_bytes(body)
        out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, check=True, timeout=60)
    return max(0, len(out.stdout.decode().strip().splitlines()) - 2)  # two header lines
