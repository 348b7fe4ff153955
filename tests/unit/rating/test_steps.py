"""The rating order is one tuple, and docs/rating.md names its steps in that order."""

from __future__ import annotations

import re
from pathlib import Path

from tally.rating.engine import SETTLE, STEPS

DOC = Path(__file__).resolve().parents[3] / "docs" / "rating.md"


def test_scheduled_invoices_share_a_contiguous_part_of_the_order() -> None:
    start = STEPS.index(SETTLE[0])
    assert STEPS[start : start + len(SETTLE)] == SETTLE


def test_docs_name_the_steps_in_order() -> None:
    paragraph = DOC.read_text().split("Pipeline:", 1)[1].split("\n\n", 1)[0]
    named = [name for name in re.findall(r"`(\w+)`", paragraph) if name in {s.__name__ for s in STEPS}]
    assert named == [s.__name__ for s in STEPS]
