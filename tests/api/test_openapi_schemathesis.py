"""Schemathesis against a live tally, on SQLite and on PostgreSQL: every documented operation, fed data
generated from /openapi.json, answers without a server error, with a documented status code and content
type, and with a body that matches the documented schema for that status code.

Bounded: the fuzzing phase only, at most MAX_EXAMPLES cases per operation (about 600 requests per
backend, 1.5 to 2.5 minutes each on a busy 2-core machine), a fixed seed so a failure reproduces, no
example database written to disk, and a generous hang bound on the whole run. Loopback only: the server is
started by the suite on 127.0.0.1 and schemathesis is given only its URL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import serving

MAX_EXAMPLES = 6
SEED = 20261206
HANG_BOUND_S = 600  # a hang bound, not a timing assertion

# Operations excluded while a known bug is fixed elsewhere. Keep this empty when nothing is known; each entry
# names the issue point it waits for, so it is easy to remove when that lands.
KNOWN_BUG_EXCLUDES: list[str] = []


def test_schemathesis_finds_no_server_error_and_no_schema_violation(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path) as srv:
        doc = httpx.get(f"{srv.url}/openapi.json", timeout=30).json()
        operations = sum(len(item) for item in doc["paths"].values())
        cmd = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{srv.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {srv.token_a}",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--phases",
            "fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--workers",
            "2",
            "--no-color",
            *KNOWN_BUG_EXCLUDES,
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_BOUND_S, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert f"Tested: {operations}" in out, out[-3000:]  # every documented operation was exercised
