"""Cross-domain hooks are connected explicitly when the application is built (tally.jobs.wiring), not by
importing a module: an application without the test-clock router still evaluates thresholds at once
after a contract write (issue 13 §2). The worker's steps are one explicit list, in order."""

from __future__ import annotations

import subprocess
import sys


def test_threshold_evaluation_is_registered_by_create_app_alone() -> None:
    # A fresh interpreter, so nothing imported earlier (the worker, the test-clock router) registers it.
    code = (
        "from sqlalchemy import create_engine\n"
        "from tally.contracts.balances import thresholds\n"
        "from tally.invoices import historical, pro_services, service\n"
        "assert thresholds.evaluators() == ()\n"
        "assert service.reissuers() == {}\n"
        "from tally.server.app import create_app\n"
        "from tally.settings import load\n"
        "create_app(load(test_clock=False), create_engine('sqlite://'))\n"
        "from tally.invoices.thresholds.run import evaluate_now\n"
        "assert thresholds.evaluators() == (evaluate_now,), thresholds.evaluators()\n"
        "create_app(load(test_clock=False), create_engine('sqlite://'))\n"
        "assert len(thresholds.evaluators()) == 1\n"
        "wired = {'PRO_SERVICES': pro_services.reissue, 'HISTORICAL': historical.reissue}\n"
        "assert service.reissuers() == wired, service.reissuers()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_worker_runs_its_steps_in_one_listed_order() -> None:
    from tally.jobs.worker import STEPS

    assert [s.name for s in STEPS] == [
        "threshold billing",
        "alerts",
        "Stripe sync",
        "lifecycle notifications",
        "webhook delivery",
    ]
