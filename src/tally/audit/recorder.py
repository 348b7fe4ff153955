"""Records one audit row per successful mutating API call, in the transaction that makes the change.

How, without touching any endpoint:
1. Authentication calls `begin()` for every request. For an audited route (tally.audit.actions) it makes a
   `Scope` current (a context variable, so it follows the request into the endpoint's worker thread) and
   installs it as the unit of work's commit hook (`tally.db.uow.commit_hook`).
2. The body reader calls `note_body()`, which keeps only the top-level id fields that name the resource.
   Bodies are never stored: they can carry secrets.
3. For creates, an engine listener (`install()`) remembers the id of the first row the transaction inserts
   into the resource's table.
4. `uow.write` calls `before_commit()` just before COMMIT: the row is inserted there, so it commits or rolls
   back with the change. A request whose transaction fails (or that never opens a write transaction, like
   every read-only POST) leaves no row; the first committed write of a request is its only audited one.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, select
from sqlalchemy.sql.dml import Insert

from tally.audit.actions import Action, action_for
from tally.clock import Clock
from tally.db import uow
from tally.ids import new_id
from tally.models.audit import audit_logs
from tally.models.tenants import api_tokens

MAX_ID = 255
MAX_USER_AGENT = 512
MAX_DESCRIPTION = 1024


@dataclass(eq=False)
class Scope:
    """One audited request, from authentication to its first commit."""

    tenant_id: str
    token_hash: str
    action: Action
    description: str
    path_params: Mapping[str, str]
    ip: str | None
    user_agent: str | None
    clock: Clock
    # (id, name) of an actor that is not an API token: an operator signed in to the console.
    actor: tuple[str, str] | None = None
    request_id: str = field(default_factory=new_id)
    body_ids: dict[str, str] = field(default_factory=dict)
    created_id: str | None = None
    done: bool = False

    def resource(self) -> tuple[str | None, str | None]:
        rtype = self.action.resource_type
        if self.action.type_key:
            rtype = self.body_ids.get(self.action.type_key, rtype)
        if self.action.created_in:
            return rtype, self.created_id
        for key in self.action.id_keys:
            value = self.path_params.get(key) or self.body_ids.get(key)
            if value:
                return rtype, value
        return rtype, None

    def before_commit(self, conn: Connection) -> None:
        if self.done:
            return
        if self.actor is not None:
            actor_id, actor_name = self.actor
        else:
            token = conn.execute(
                select(api_tokens.c.id, api_tokens.c.name).where(
                    api_tokens.c.token_hash == self.token_hash, api_tokens.c.tenant_id == self.tenant_id
                )
            ).first()
            actor_id, actor_name = (token.id, token.name) if token else ("unknown", "unknown")
        rtype, rid = self.resource()
        conn.execute(
            insert(audit_logs).values(
                id=new_id(),
                tenant_id=self.tenant_id,
                created_at=self.clock.now(),
                action=self.action.name,
                resource_type=rtype,
                resource_id=rid[:MAX_ID] if rid else None,
                actor_id=actor_id,
                actor_name=actor_name,
                description=self.description[:MAX_DESCRIPTION],
                request_id=self.request_id,
                ip=self.ip,
                user_agent=self.user_agent[:MAX_USER_AGENT] if self.user_agent else None,
            )
        )

    def after_commit(self) -> None:
        # Only now: a transaction that failed at COMMIT and is retried must still get its row.
        self.done = True


_current: ContextVar[Scope | None] = ContextVar("tally_audit_scope", default=None)


def begin(
    *,
    method: str,
    template: str | None,
    path: str,
    path_params: Mapping[str, Any],
    tenant_id: str,
    token_hash: str,
    ip: str | None,
    user_agent: str | None,
    clock: Clock,
    actor: tuple[str, str] | None = None,
) -> None:
    """Start (or, for a route that is not audited, clear) the current request's audit scope. The console
    passes the API route its action stands for (`template`) and, for an operator account, the `actor`."""
    action = action_for(method, template) if template else None
    scope = None
    if action is not None:
        scope = Scope(
            tenant_id=tenant_id,
            token_hash=token_hash,
            action=action,
            description=f"{method} {path}",
            path_params={k: v for k, v in path_params.items() if isinstance(v, str)},
            ip=ip,
            user_agent=user_agent,
            clock=clock,
            actor=actor,
        )
    _current.set(scope)
    uow.commit_hook.set(scope)


def note_body(body: Any) -> None:
    """Keep the body's top-level fields that name the resource (short strings only); nothing else."""
    scope = _current.get()
    if scope is None or not isinstance(body, dict):
        return
    for key in scope.action.body_keys():
        value = body.get(key)
        if isinstance(value, str) and 0 < len(value) <= MAX_ID:
            scope.body_ids[key] = value


def _after_execute(
    conn: Connection, clauseelement: Any, multiparams: Any, params: Any, options: Any, result: Any
) -> None:
    scope = _current.get()
    if scope is None or scope.created_id is not None or scope.action.created_in is None:
        return
    if not isinstance(clauseelement, Insert) or clauseelement.table.name != scope.action.created_in:
        return
    compiled = getattr(result.context, "compiled_parameters", None)
    value = compiled[0].get("id") if compiled else None
    if isinstance(value, str):
        scope.created_id = value


def install(engine: Engine) -> None:
    """Let creates name their new resource (step 3). Idempotent; cheap for every other statement."""
    if not event.contains(engine, "after_execute", _after_execute):
        event.listen(engine, "after_execute", _after_execute)
