#!/usr/bin/env python3
"""Zero-setup entry point: needs only Python 3.11+.

    python3 dev.py serve [--port 8080] [--test-clock]   # run tally on the embedded SQLite database
    python3 dev.py serve --demo                         # the same, seeding the demo tenant first (once)
    python3 dev.py test  [pytest args]                  # the test suite: SQLite, PostgreSQL, 2 workers
    python3 dev.py check                                # ruff, mypy, import-linter

The first run creates .venv and installs the pinned dependencies; later runs reuse it and reinstall
only when pyproject.toml changes.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import os
import shutil
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
    # `otel`: the optional OpenTelemetry SDK and OTLP exporter, which the tracing tests run on.
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev,clickhouse,otel]"], check=True)
    STAMP.write_text(wanted)


# Invoice documents (issue 15): WeasyPrint needs Pango; the PDFs need fonts for Latin, Greek, Cyrillic, the
# euro sign (DejaVu) and CJK (Droid Sans Fallback); the tests read PDFs back with poppler's pdftotext.
# libharfbuzz-subset0 lets WeasyPrint subset fonts natively (about 10x faster than its fontTools fallback).
RENDER_APT = [
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "fonts-dejavu-core",
    "fonts-droid-fallback",
]
# The console's browser tests (issue 14): Playwright drives Debian's Chromium (it cannot download its own).
TEST_APT = ["poppler-utils", "chromium"]
CHROMIUM = "/usr/bin/chromium"
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
]


def ensure_system(for_tests: bool) -> None:
    """Install the system packages invoice rendering (and its tests) need; a no-op when present."""
    missing = [p for p in FONTS if not Path(p).exists()]
    libs = ("pango-1.0", "pangoft2-1.0", "harfbuzz-subset")
    missing += [lib for lib in libs if ctypes.util.find_library(lib) is None]
    if for_tests and shutil.which("pdftotext") is None:
        missing.append("pdftotext")
    if for_tests and not Path(CHROMIUM).exists():
        missing.append("chromium")
    if not missing:
        return
    wanted = RENDER_APT + (TEST_APT if for_tests else [])
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"tally needs these system packages (Debian names): {' '.join(wanted)}", file=sys.stderr)
        return
    print(f"installing system packages: {' '.join(wanted)} ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *wanted],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def run(*cmd: str) -> int:
    return subprocess.call(cmd, cwd=ROOT)


def _address(serve_args: list[str]) -> list[str]:
    """The --host/--port of a serve command line, for the console URL `tally demo` prints."""
    out = []
    for i, arg in enumerate(serve_args):
        for flag in ("--host", "--port"):
            if arg == flag and i + 1 < len(serve_args):
                out += [flag, serve_args[i + 1]]
            elif arg.startswith(flag + "="):
                out.append(arg)
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "check", "tally"}:
        print(__doc__)
        return 2
    ensure_env()
    what, rest = argv[0], argv[1:]
    if what in ("serve", "test", "tally"):
        ensure_system(for_tests=what == "test")
    if what == "serve":
        if "--demo" in rest:
            # `tally demo` seeds the demo tenant (docs/quickstart.md) unless it is there already.
            rest = [a for a in rest if a != "--demo"]
            rc = run(str(PY), "-m", "tally", "demo", "--if-missing", *_address(rest))
            if rc:
                return rc
        return run(str(PY), "-m", "tally", "serve", *rest)
    if what == "tally":
        return run(str(PY), "-m", "tally", *rest)
    if what == "check":
        rc = run(str(PY), "-m", "ruff", "check", "src", "tests", "bench", "scripts")
        rc |= run(str(PY), "-m", "ruff", "format", "--check", "src", "tests", "bench", "scripts")
        rc |= run(str(BIN / "lint-imports"))
        rc |= run(str(PY), "-m", "mypy")
        return rc
    return run(str(PY), "-m", "pytest", *_parallel(rest), *rest)


def _parallel(args: list[str]) -> list[str]:
    """Two pytest-xdist workers, one test file each at a time, unless the arguments choose otherwise
    (`-n 0` runs in one process). Most of a test's time is spent waiting on the server it drives, so two
    workers keep both cores busy; TALLY_TEST_WORKERS sets another count."""
    if "no:xdist" in args or any(
        a == "--numprocesses" or a.startswith(("-n", "--numprocesses=")) for a in args
    ):
        return []
    return ["-n", os.environ.get("TALLY_TEST_WORKERS", "2"), "--dist", "loadfile"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
