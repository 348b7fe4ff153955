"""`tally tokens list | revoke` against a running server, on both databases: a revoked token is refused
within the documented cache window (5 s), others keep working, and the list never shows a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import serving
from tests.support.servers import eventually


def _status(url: str, token: str) -> int:
    r = httpx.get(url + "/v1/credit-types/list", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def test_list_and_revoke_by_id_prefix_and_by_token(backend: str, tmp_path: Path) -> None:
    with serving(backend, tmp_path) as running:
        srv = running.server
        ci = srv.cli("tokens", "create", "--tenant", "alpha", "--name", "ci").strip().splitlines()[-1]
        leaked = srv.cli("tokens", "create", "--tenant", "alpha", "--name", "laptop").strip().splitlines()[-1]
        rows = [json.loads(line) for line in srv.cli("tokens", "list", "--json").splitlines()]
        mine = {r["name"]: r for r in rows if r["tenant"] == "alpha"}
        assert {"ci", "laptop"} <= set(mine)
        assert all(r["revoked_at"] is None for r in rows)
        listed = srv.cli("tokens", "list") + srv.cli("tokens", "list", "--json")
        assert "tly_" not in listed  # never a secret
        assert [
            r["tenant"]
            for r in map(json.loads, srv.cli("tokens", "list", "--json", "--tenant", "bravo").splitlines())
        ] == ["bravo"]
        assert _status(running.url, ci) == 200
        assert _status(running.url, leaked) == 200

        # by id prefix (unambiguous: the whole id less its last character)
        out = srv.cli("tokens", "revoke", mine["ci"]["id"][:-1])
        assert mine["ci"]["id"] in out
        eventually(lambda: _status(running.url, ci) == 401, seconds=15)
        # by the leaked token itself
        assert mine["laptop"]["id"] in srv.cli("tokens", "revoke", leaked)
        eventually(lambda: _status(running.url, leaked) == 401, seconds=15)
        assert _status(running.url, running.token_a) == 200  # the others still work
        assert "already revoked" in srv.cli("tokens", "revoke", mine["ci"]["id"])

        after = {r["id"]: r for r in map(json.loads, srv.cli("tokens", "list", "--json").splitlines())}
        assert after[mine["ci"]["id"]]["revoked_at"] is not None
        assert after[mine["laptop"]["id"]]["revoked_at"] is not None

        for ref in ("0000000000", "01", "tly_not-a-token"):
            proc = subprocess.run(
                [sys.executable, "-m", "tally", "tokens", "revoke", ref],
                env=srv.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 1
            assert proc.stderr.count("\n") == 1
            assert proc.stderr.startswith("tally: ")
        assert _status(running.url, running.token_b) == 200


def test_version_and_help_for_every_option(tmp_path: Path) -> None:
    from tally import __version__
    from tally.cli.main import app

    out = subprocess.run(
        [sys.executable, "-m", "tally", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == f"tally {__version__}"
    import typer.main

    group = typer.main.get_command(app)
    missing = []

    def walk(cmd: object, path: str) -> None:
        for param in getattr(cmd, "params", []):
            if getattr(param, "help", None) is None and param.name not in ("help",):
                missing.append(f"{path} {param.name}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(group, "tally")
    assert missing == []
