"""Start the extended localstripe (tests/support/localstripe_ext.py) on 127.0.0.1 for a test."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import stripe

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


class LocalStripe:
    """A localstripe process with its state in `state`; `stop()` and `start()` keep the state."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.state = workdir / "localstripe.pickle"
        self.log = workdir / "localstripe.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.secret_key = "sk_test_tally_localstripe"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(self.secret_key, base_addresses={"api": self.url}, max_network_retries=0)

    def start(self) -> None:
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.localstripe_ext",
                "--port",
                str(self.port),
                "--state",
                str(self.state),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"localstripe exited: {self.log.read_text()[-2000:]}")
            try:
                httpx.get(
                    self.url + "/v1/customers",
                    headers={"Authorization": f"Bearer {self.secret_key}"},
                    timeout=1,
                )
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("localstripe did not start in 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def crash_after(self, method: str, path: str) -> None:
        """The server exits after executing the next `method path` request, before answering it."""
        r = httpx.post(f"{self.url}/_config/crash", json={"method": method, "path": path}, timeout=5)
        r.raise_for_status()

    def fail_next(self, count: int, method: str, path: str) -> None:
        """The next `count` `method path` requests get a 500 without being executed."""
        body = {"count": count, "method": method, "path": path}
        httpx.post(f"{self.url}/_config/fail", json=body, timeout=5).raise_for_status()

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def register_webhook(self, url: str, secret: str) -> None:
        r = httpx.post(f"{self.url}/_config/webhooks/tally", data={"url": url, "secret": secret}, timeout=5)
        r.raise_for_status()
