"""The deployment files: parsed, and every tally command line in them accepted by the real CLI parser.

(No Docker daemon runs where the suite runs, so the image is not built here; see docs/operations.md.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from tally.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _parses(args: list[str]) -> None:
    """Let click parse `tally ARGS` exactly as the container would: unknown options or bad values raise."""
    group = typer.main.get_command(app)
    sub = group.commands[args[0]]  # type: ignore[attr-defined]
    sub.make_context(args[0], list(args[1:]))


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_runs_two_servers_two_workers_and_postgres_with_a_volume() -> None:
    services = _compose()["services"]
    commands = {name: s.get("command") for name, s in services.items()}
    servers = [n for n, c in commands.items() if c and c[0] == "serve"]
    workers = [n for n, c in commands.items() if c and c[0] == "worker"]
    assert len(servers) == 2
    assert len(workers) == 2
    for name in servers + workers:
        _parses(commands[name])
        env = services[name]["environment"]
        assert env["TALLY_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["TALLY_DATABASE_URL"]
        assert "TALLY_SECRET_KEY" in env  # one key for every process (webhook secrets)
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    published = {services[n]["ports"][0].split(":")[0] for n in servers}
    assert len(published) == 2  # each server on its own host port
    for n in servers:
        assert "--host" in commands[n]
        assert commands[n][commands[n].index("--host") + 1] == "0.0.0.0"
    for n in workers:
        assert "9464" in services[n]["healthcheck"]["test"][-1]
    pg = services["postgres"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    assert pg["volumes"][0].split(":")[0] in _compose()["volumes"]


def test_dockerfile_is_slim_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms
    assert all(f.endswith("-slim") or "slim" in f for f in froms)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user
    assert user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD", text, re.M)
    assert "/health" in text
    entry = re.search(r'^ENTRYPOINT \["tally"\]', text, re.M)
    assert entry
    cmd = re.search(r"^CMD (\[.*\])", text, re.M)
    assert cmd
    _parses(yaml.safe_load(cmd.group(1)))
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M)
    for line in copied:
        for path in shlex.split(line):
            assert (ROOT / path).exists(), path
