"""The invoice status and kind enums: their values are the stored and wire strings, and the export's
status parsing shared by the CLI and the console."""

from __future__ import annotations

import pytest

from tally.errors import BadRequest
from tally.invoices import export
from tally.models.invoices import InvoiceKind, InvoiceStatus
from tally.wire import encode_json


def test_values_are_the_stored_strings() -> None:
    assert [s.value for s in InvoiceStatus] == ["DRAFT", "FINALIZED", "VOID"]
    assert [k.value for k in InvoiceKind] == ["USAGE", "SCHEDULED", "PRO_SERVICES", "HISTORICAL"]
    assert encode_json({"status": InvoiceStatus.VOID, "kind": InvoiceKind.USAGE}) == (
        b'{"status":"VOID","kind":"USAGE"}'
    )
    assert f"{InvoiceKind.HISTORICAL}|{InvoiceStatus.DRAFT}" == "HISTORICAL|DRAFT"


def test_export_statuses() -> None:
    assert export.statuses([], "status") == (InvoiceStatus.FINALIZED,)
    assert export.statuses(["void", "DRAFT", "void"], "status") == (InvoiceStatus.VOID, InvoiceStatus.DRAFT)
    with pytest.raises(BadRequest, match=r"^--status: PAID is not one of DRAFT, FINALIZED, VOID$"):
        export.statuses(["paid"], "--status")
