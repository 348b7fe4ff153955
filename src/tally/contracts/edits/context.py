"""What the steps of a v2 contract edit share (`lifecycle.EDIT_STEPS`): each step is a function from the
typed terms so far and the request to the typed terms after its part of the request."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tally.contracts.edits.schemas import EditContract
from tally.contracts.service import Contract
from tally.contracts.terms import model
from tally.contracts.terms.normalize import Doc, Terms, dump
from tally.db.uow import WriteConn


@dataclass
class EditContext:
    """One v2 edit in progress: what its steps look up (connection, tenant, the contract as loaded, the
    time) and what they report: the history `changes` (request pieces as sent, or terms as added) and the
    recurring templates `touched` (their children are re-derived once the terms are stored)."""

    conn: WriteConn
    tenant_id: str
    contract: Contract
    now: datetime
    changes: Doc = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)

    def checker(self) -> Terms:
        return Terms(self.conn, self.tenant_id, self.contract.parsed.starting_at, self.now)


# One step of a v2 edit: the terms so far, and the request, to the terms after its part of the request.
EditStep = Callable[[EditContext, model.Terms, EditContract], model.Terms]


def dump_all(pieces: Iterable[Any]) -> list[Doc]:
    """Request pieces (pydantic models) as the JSON they were sent as (unset fields left out)."""
    return [dump(p) for p in pieces]
