#!/usr/bin/env python3
"""Zero-setup entry point: needs only Python 3.11+.

    python3 dev.py serve [--port 8080] [--test-clock]   # run tally on the embedded SQLite database
    python3 dev.py test  [pytest args]                  # run the test suite (SQLite and PostgreSQL)
    python3 dev.py check                                # ruff, mypy, import-linter

The first run creates .venv and installs the pinned dependencies; later runs reuse it and reinstall
only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".tally-deps"


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (dev.py must run on any python3 to say so)
        sys.exit("tally needs Python 3.11 or newer")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PY.exists():
        print("creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing dependencies ...", file=sys.stderr)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    # `clickhouse`: the optional ClickHouse event store's client and chdb, which its tests run on.
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev,clickhouse]"], check=True)
    STAMP.write_text(wanted)


def run(*cmd: str) -> int:
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "check", "tally"}:
        print(__doc__)
        return 2
    ensure_env()
    what, rest = argv[0], argv[1:]
    if what == "serve":
        return run(str(PY), "-m", "tally", "serve", *rest)
    if what == "tally":
        return run(str(PY), "-m", "tally", *rest)
    if what == "check":
        rc = run(str(PY), "-m", "ruff", "check", "src", "tests", "bench", "scripts")
        rc |= run(str(PY), "-m", "ruff", "format", "--check", "src", "tests", "bench", "scripts")
        rc |= run(str(BIN / "lint-imports"))
        rc |= run(str(PY), "-m", "mypy")
        return rc
    return run(str(PY), "-m", "pytest", *rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
