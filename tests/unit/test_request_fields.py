"""No request field that tally accepts is silently ignored (issue 12 rule 7).

Walks every field of every route's request model (server.request_fields): each one must be read by the code
beyond its declaration, or be documented as echo-only (and published in docs/compatibility.md), or be
refused with a 400 that names it (tests/sdk/test_request_fields.py checks those live).
"""

from __future__ import annotations

import re
from pathlib import Path

from tally.server.request_fields import ECHO_ONLY, REFUSED_WITH, accepted_fields

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {p: p.read_text() for p in (ROOT / "src" / "tally").rglob("*.py") if p.name != "request_fields.py"}


def _read(field: str) -> bool:
    """Referred to as an attribute (`req.field`) or a key (`"field"`); a declaration (`field: T`) is
    neither."""
    pattern = re.compile(rf"(\.{field}\b|[\"']{field}[\"'])")
    return any(pattern.search(text) for text in SOURCES.values())


def test_the_walk_sees_every_route_body() -> None:
    fields = accepted_fields()
    assert len(fields) > 1000  # ~1,100 distinct model fields across ~100 routes
    assert "POST /v1/contracts/create" in fields["CreateContract.rate_card_id"]
    assert "POST /v2/contracts/edit" in fields["EditContract.allow_contract_ending_before_finalized_invoice"]
    assert "IngestBatch.root" not in fields  # a list body has no field of its own


def test_every_accepted_field_has_an_effect_or_is_documented() -> None:
    silent = [
        f"{key} ({', '.join(routes)})"
        for key, routes in accepted_fields().items()
        if key not in ECHO_ONLY and key not in REFUSED_WITH and not _read(key.split(".", 1)[1])
    ]
    assert silent == [], "accepted but never read: build it, refuse it (400) or list it as echo-only"


def test_the_lists_name_real_fields() -> None:
    fields = accepted_fields()
    assert sorted(set(ECHO_ONLY) - set(fields)) == []
    assert sorted(set(REFUSED_WITH) - set(fields)) == []
    assert all(reason.strip() for reason in ECHO_ONLY.values())


def test_echo_only_fields_are_published() -> None:
    doc = (ROOT / "docs" / "compatibility.md").read_text()
    missing = [key for key in ECHO_ONLY if f"`{key}`" not in doc]
    assert missing == [], "regenerate docs/compatibility.md: .venv/bin/python scripts/compat_matrix.py"


def test_the_check_catches_a_silent_field() -> None:
    # The detector itself: a name that no code refers to is reported, a read one is not.
    assert not _read("surely_no_code_reads_this_field")
    assert _read("rate_card_id")
