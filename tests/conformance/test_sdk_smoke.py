"""The shared conformance smoke scenario (`../shared/conformance/sdk_smoke.py`), run as CI runs it: a
subprocess driving a live server with the official SDK in strict mode, on every backend.

Known conflict: step 1 creates a metric whose group key `region` is not among its property filters.
Metronome rejects that ("Group key 'region' does not match one of the property filter names.", SPEC §2.2)
and so does tally. The unmodified script is therefore an expected failure (strict: the day the script is
fixed, this test fails and the marker must go), and a copy with only that one argument corrected must pass
every step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Running

SMOKE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sdk_smoke.py"
CONFLICT = 'property_filters=[{"name": "tokens", "exists": True}],'
RESOLVED = 'property_filters=[{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],'


def _run(script: Path, server: Running) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, str(script), server.url, "--token", server.token_a, "--wait", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(out.stdout[-3000:])
    return out


@pytest.fixture
def smoke() -> Path:
    if not SMOKE.exists():
        pytest.skip(f"{SMOKE} not found (CI checks out ../shared beside the repo)")
    return SMOKE


@pytest.mark.xfail(
    strict=True, reason="sdk_smoke step 1 sends a group key that is not a property filter (SPEC §2.2)"
)
def test_unmodified_sdk_smoke(server: Running, smoke: Path) -> None:
    out = _run(smoke, server)
    assert out.returncode == 0, out.stdout[-2000:]


def test_sdk_smoke_with_the_group_key_filter_added(server: Running, smoke: Path, tmp_path: Path) -> None:
    text = smoke.read_text()
    assert text.count(CONFLICT) == 1, "sdk_smoke.py changed: revisit this test and the xfail above"
    patched = tmp_path / "sdk_smoke.py"
    patched.write_text(text.replace(CONFLICT, RESOLVED))
    out = _run(patched, server)
    assert out.returncode == 0, f"sdk_smoke.py failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
