"""The shared conformance smoke scenario (`../shared/conformance/sdk_smoke.py`), run unmodified as CI runs
it: a subprocess driving a live server with the official SDK in strict mode, on every backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Running

SMOKE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sdk_smoke.py"


@pytest.fixture
def smoke() -> Path:
    if not SMOKE.exists():
        pytest.skip(f"{SMOKE} not found (CI checks out ../shared beside the repo)")
    return SMOKE


def test_sdk_smoke(server: Running, smoke: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(smoke), server.url, "--token", server.token_a, "--wait", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(out.stdout[-3000:])
    assert out.returncode == 0, f"sdk_smoke.py failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
