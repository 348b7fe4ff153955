"""docs/quickstart.md runs as written: its Python snippets, in order and in one namespace, against a
`--test-clock` server of each backend, with the doc's placeholder address and token replaced by the test
server's. The snippets assert their own figures (draft 3,000 cents, then finalized), so a doc that drifts
from tally's behaviour fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import Running
from tests.sdk.invoice_support import clock_server  # noqa: F401 - fixture

DOC = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PLACEHOLDERS = ('"http://127.0.0.1:8080"', '"tly_..."')


def snippets() -> list[str]:
    found = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(found) >= 7, "docs/quickstart.md lost its Python snippets"
    return list(found)


def test_the_snippets_name_the_placeholders() -> None:
    first = snippets()[0]
    for placeholder in PLACEHOLDERS:
        assert placeholder in first


def test_quickstart_snippets_run(clock_server: Running) -> None:  # noqa: F811
    address, token = PLACEHOLDERS
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    for n, code in enumerate(snippets(), 1):
        code = code.replace(address, repr(clock_server.url)).replace(token, repr(clock_server.token_a))
        exec(compile(code, f"docs/quickstart.md snippet {n}", "exec"), namespace)
    final = namespace["final"]
    assert (final.status, final.total) == ("FINALIZED", 3000)
    assert final.invoice_number == "EX-000001"
    (line,) = [li for li in final.line_items if li.type == "usage"]
    assert (line.quantity, line.total) == (3000, 4000)  # 1,000 x 2 + 2,000 x 1
    drafts = namespace["drafts"]
    assert [d.start_timestamp for d in drafts] == [namespace["next_start"]]
