"""Packages (Metronome `v1.packages.*`): contract templates whose dates are offsets from the contract start.

A package stores its terms with offsets (`starting_at_offset` + `duration`, `date_offset`, a contract
`duration`, `invoice_generation_starting_at_offset`). `resolve` turns them into a `v1.contracts.create`
body for one contract start; the contract is then created by the ordinary path and keeps its own copy,
so archiving or re-creating a package never rewrites an existing contract (docs/decisions.md).
Offsets: DAYS and WEEKS add whole days, MONTHS and YEARS add calendar months from the contract start
(the day clamped to the month's length, as billing periods do).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select, update

from tally.contracts import repository as repo
from tally.contracts.schemas_create import CreateContract
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import parse
from tally.kit.pagination import after_id, cut
from tally.models.contracts import contracts as contracts_table
from tally.models.packages import packages
from tally.rate_cards import service as rate_cards
from tally.rating.periods import add_months
from tally.wire import as_timestamp, format_timestamp, parse_timestamp

UNITS = ("DAYS", "WEEKS", "MONTHS", "YEARS")
UNIQUENESS_SCOPE = "package"
# Package fields tally cannot honour yet: refused with a 400 naming them (never silently dropped).
NOT_SUPPORTED = (
    "billing_provider",
    "delivery_method",
    "spend_trackers",
    "spend_threshold_configuration",
    "prepaid_balance_threshold_configuration",
)
# Fields of the package that are not contract terms.
_PACKAGE_ONLY = ("name", "aliases", "uniqueness_key", "contract_name", "duration", "usage_statement_schedule")
# Contract-create fields a request may send next to package_id/package_alias.
CONTRACT_FIELDS_WITH_PACKAGE = (
    "customer_id",
    "starting_at",
    "package_id",
    "package_alias",
    "uniqueness_key",
    "custom_fields",
    "name",
    "transition",
)
# Reference start used to validate a package's offsets and terms at creation.
_REFERENCE_START = datetime(2000, 1, 1, tzinfo=UTC)
_LISTS = (
    "commits",
    "credits",
    "overrides",
    "scheduled_charges",
    "subscriptions",
    "recurring_commits",
    "recurring_credits",
)


def _offset(raw: Any, where: str) -> tuple[str, int]:
    if not isinstance(raw, dict) or set(raw) - {"unit", "value"} or "unit" not in raw or "value" not in raw:
        raise BadRequest(f"{where}: must be {{unit, value}}")
    unit, value = raw["unit"], raw["value"]
    if unit not in UNITS:
        raise BadRequest(f"{where}.unit: must be one of {', '.join(UNITS)}")
    if isinstance(value, bool) or (
        not isinstance(value, int) and not (hasattr(value, "is_integer") and value == int(value))
    ):
        raise BadRequest(f"{where}.value: must be a whole number")
    if int(value) < 0:
        raise BadRequest(f"{where}.value: must not be negative")
    return unit, int(value)


def shift(t: datetime, raw: Any, where: str) -> datetime:
    unit, value = _offset(raw, where)
    if unit == "DAYS":
        return t + timedelta(days=value)
    if unit == "WEEKS":
        return t + timedelta(days=7 * value)
    return add_months(t, value * (12 if unit == "YEARS" else 1))


def _resolve_node(node: Any, start: datetime, where: str) -> Any:
    if isinstance(node, list):
        return [_resolve_node(v, start, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    begin: datetime | None = None
    if "starting_at_offset" in node:
        begin = shift(start, node["starting_at_offset"], f"{where}.starting_at_offset")
        out["starting_at"] = format_timestamp(begin)
        if (
            "duration" in node
            and isinstance(node["duration"], dict)
            and node["duration"].get("unit") != "PERIODS"
        ):
            out["ending_before"] = format_timestamp(shift(begin, node["duration"], f"{where}.duration"))
    if "date_offset" in node:
        out["timestamp"] = format_timestamp(shift(start, node["date_offset"], f"{where}.date_offset"))
    for k, v in node.items():
        if k in ("starting_at_offset", "date_offset", "id") or (k == "duration" and begin is not None):
            continue
        out[k] = _resolve_node(v, start, f"{where}.{k}" if where else k)
    return out


def resolve(doc: dict[str, Any], start: datetime) -> dict[str, Any]:
    """The `v1.contracts.create` terms of a contract created from package `doc`, starting at `start`."""
    body: dict[str, Any] = {}
    for k, v in doc.items():
        if k in _PACKAGE_ONLY or k == "id":
            continue
        if k in _LISTS:
            v = [{kk: vv for kk, vv in item.items() if kk != "id"} for item in v]
        body[k] = _resolve_node(v, start, k)
    if doc.get("contract_name"):
        body["name"] = doc["contract_name"]
    if doc.get("duration") is not None:
        body["ending_before"] = format_timestamp(shift(start, doc["duration"], "duration"))
    uss = doc.get("usage_statement_schedule")
    if uss is not None:
        sched = {k: v for k, v in uss.items() if k != "invoice_generation_starting_at_offset"}
        if "invoice_generation_starting_at_offset" in uss:
            sched["invoice_generation_starting_at"] = format_timestamp(
                shift(
                    start,
                    uss["invoice_generation_starting_at_offset"],
                    "usage_statement_schedule.invoice_generation_starting_at_offset",
                )
            )
        body["usage_statement_schedule"] = sched
    return body


# ------------------------------------------------------------------------------------------- writes


def create(conn: Connection, tenant_id: str, body: dict[str, Any], now: datetime, created_by: str) -> str:
    refused = [k for k in NOT_SUPPORTED if k in body]
    if refused:
        raise BadRequest(f"{', '.join(refused)}: not supported on packages by tally yet")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("name: required")
    _no_nul(body, "")
    aliases = body.get("aliases") or []
    if not isinstance(aliases, list) or any(not isinstance(a, dict) or not a.get("name") for a in aliases):
        raise BadRequest("aliases: each alias needs a name")
    for i, a in enumerate(aliases):
        if set(a) - {"name", "starting_at", "ending_before"}:
            raise BadRequest(
                f"aliases[{i}]: unknown field {sorted(set(a) - {'name', 'starting_at', 'ending_before'})[0]}"
            )
    for key in _LISTS:
        if key in body and not isinstance(body[key], list):
            raise BadRequest(f"{key}: must be a list")
        for i, item in enumerate(body.get(key) or []):
            if not isinstance(item, dict):
                raise BadRequest(f"{key}[{i}]: must be an object")
    if "usage_statement_schedule" in body and not isinstance(body["usage_statement_schedule"], dict):
        raise BadRequest("usage_statement_schedule: must be an object")
    # Validate the terms as a contract starting at a reference date would see them (names fields, 400).
    ref = _REFERENCE_START
    doc = dict(body)
    for key in _LISTS:
        doc[key] = [{**item, "id": new_id()} for item in body.get(key) or []]
    _ids(doc)
    trial = resolve({k: v for k, v in doc.items() if k in body}, ref)
    parse(
        CreateContract, {**trial, "customer_id": "00000000-0000-0000-0000-000000000000", "starting_at": ref}
    )
    rc = body.get("rate_card_id")
    if rc is not None:
        try:
            rate_cards.get(conn, tenant_id, rc)
        except NotFound:
            raise BadRequest(f"rate_card_id: rate card {rc} not found") from None
    package_id = new_id()
    if body.get("uniqueness_key") is not None:
        repo.reserve_key(conn, tenant_id, UNIQUENESS_SCOPE, str(body["uniqueness_key"]), package_id, now)
    conn.execute(
        insert(packages).values(
            id=package_id,
            tenant_id=tenant_id,
            name=name,
            doc={k: v for k, v in doc.items() if k in body},
            aliases=aliases,
            uniqueness_key=body.get("uniqueness_key"),
            created_at=now,
            created_by=created_by,
        )
    )
    return package_id


def _no_nul(node: Any, where: str) -> None:
    if isinstance(node, str) and "\x00" in node:
        raise BadRequest(f"{where or 'body'}: must not contain NUL characters")
    if isinstance(node, list):
        for i, v in enumerate(node):
            _no_nul(v, f"{where}[{i}]")
    elif isinstance(node, dict):
        for k, v in node.items():
            _no_nul(k, where)
            _no_nul(v, f"{where}.{k}" if where else str(k))


def archive(conn: Connection, tenant_id: str, package_id: str, now: datetime) -> str:
    row = get_row(conn, tenant_id, package_id)
    if row.archived_at is None:
        conn.execute(
            update(packages)
            .where(packages.c.tenant_id == tenant_id, packages.c.id == package_id)
            .values(archived_at=now)
        )
    return package_id


# -------------------------------------------------------------------------------------------- reads


def get_row(conn: Connection, tenant_id: str, package_id: str) -> Row[Any]:
    row = conn.execute(
        select(packages).where(packages.c.tenant_id == tenant_id, packages.c.id == package_id)
    ).first()
    if row is None:
        raise NotFound(f"package {package_id} not found")
    return row


def by_alias(conn: Connection, tenant_id: str, alias: str, at: datetime) -> Row[Any]:
    """The most recently created unarchived package holding `alias` at `at`."""
    rows = conn.execute(
        select(packages)
        .where(packages.c.tenant_id == tenant_id, packages.c.archived_at.is_(None))
        .order_by(packages.c.created_at.desc(), packages.c.id.desc())
    ).all()
    for r in rows:
        for a in r.aliases:
            lo, hi = a.get("starting_at"), a.get("ending_before")
            if (
                a["name"] == alias
                and (lo is None or as_timestamp(lo, "alias") <= at)
                and (hi is None or at < as_timestamp(hi, "alias"))
            ):
                return r
    raise BadRequest(f"package_alias: no package has alias {alias!r} at {format_timestamp(at)}")


def list_rows(
    conn: Connection, tenant_id: str, archive_filter: str | None, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    q = select(packages).where(packages.c.tenant_id == tenant_id)
    if archive_filter in (None, "NOT_ARCHIVED"):
        q = q.where(packages.c.archived_at.is_(None))
    elif archive_filter == "ARCHIVED":
        q = q.where(packages.c.archived_at.is_not(None))
    elif archive_filter != "ALL":
        raise BadRequest("archive_filter: must be ARCHIVED, NOT_ARCHIVED or ALL")
    after = after_id(cursor)
    if after is not None:
        q = q.where(packages.c.id > after)
    rows = conn.execute(q.order_by(packages.c.id).limit(limit + 1)).all()
    return cut(rows, limit, lambda r: r.id)


def contracts_on_package(
    conn: Connection,
    tenant_id: str,
    package_id: str,
    *,
    covering_date: datetime | None,
    starting_at: datetime | None,
    include_archived: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    get_row(conn, tenant_id, package_id)
    c = contracts_table.c
    q = select(c.id, c.customer_id, c.starting_at, c.ending_before, c.archived_at).where(
        c.tenant_id == tenant_id,
        c.package_id == package_id,  # ix_contracts_package
    )
    after = after_id(cursor)
    if after is not None:
        q = q.where(c.id > after)
    if not include_archived:
        q = q.where(c.archived_at.is_(None))
    if covering_date is not None:
        q = q.where(
            c.starting_at <= covering_date, or_(c.ending_before.is_(None), c.ending_before > covering_date)
        )
    if starting_at is not None:
        q = q.where(c.starting_at >= starting_at)
    out = []
    for r in conn.execute(q.order_by(c.id).limit(limit + 1)):
        item: dict[str, Any] = {
            "contract_id": r.id,
            "customer_id": r.customer_id,
            "starting_at": r.starting_at,
        }
        if r.ending_before is not None:
            item["ending_before"] = r.ending_before
        if r.archived_at is not None:
            item["archived_at"] = r.archived_at
        out.append(item)
    return cut(out, limit, lambda i: i["contract_id"])


# --------------------------------------------------------------------------------------------- wire

USD_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def _ids(node: Any) -> None:
    """Give an id to every schedule item (the response requires one)."""
    if isinstance(node, list):
        for v in node:
            _ids(v)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "schedule_items" and isinstance(v, list):
                for item in v:
                    if isinstance(item, dict):
                        item.setdefault("id", new_id())
            _ids(v)


def _walk(node: Any, pids: set[str], cts: set[str]) -> None:
    if isinstance(node, list):
        for v in node:
            _walk(v, pids, cts)
    elif isinstance(node, dict):
        if isinstance(node.get("product_id"), str):
            pids.add(node["product_id"])
        if isinstance(node.get("credit_type_id"), str):
            cts.add(node["credit_type_id"])
        for v in node.values():
            _walk(v, pids, cts)


def _decorate(node: Any, products_: dict[str, str], cts: dict[str, str], key: str = "") -> Any:
    if isinstance(node, list):
        return [_decorate(v, products_, cts, key) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _decorate(v, products_, cts, k) for k, v in node.items()}
    pid = node.get("product_id")
    if isinstance(pid, str):
        out["product"] = {"id": pid, "name": products_.get(pid, "")}
    if key in ("schedule", "access_schedule", "invoice_schedule"):
        ct = node.get("credit_type_id") or USD_ID
        out["credit_type"] = {"id": ct, "name": cts.get(ct, "USD (cents)")}
        items = []
        for item in out.get("schedule_items") or []:
            if key != "access_schedule" and "unit_price" not in item:
                item = {**item, "quantity": item.get("quantity", 1), "unit_price": item.get("amount", 0)}
            elif key != "access_schedule":
                item = {**item, "quantity": item.get("quantity", 1)}
            items.append(item)
        out["schedule_items"] = items
        if key == "invoice_schedule":
            out["do_not_invoice"] = bool(node.get("do_not_invoice", False))
    return out


def wire_many(conn: Connection, tenant_id: str, rows: list[Row[Any]], now: datetime) -> list[dict[str, Any]]:
    from tally.products import service as products

    pids: set[str] = set()
    cts: set[str] = set()
    for r in rows:
        _walk(r.doc, pids, cts)
    found = products.get_many(conn, tenant_id, sorted(pids), now)
    pnames = {i: p.name for i, p in found.items()}
    from tally.rate_cards.rates import credit_type_names

    ctnames = credit_type_names(conn, tenant_id, cts | {USD_ID})
    out = []
    for r in rows:
        doc = _decorate(r.doc, pnames, ctnames)
        item: dict[str, Any] = {
            **doc,
            "id": r.id,
            "name": r.name,
            "aliases": r.aliases,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "commits": doc.get("commits") or [],
            "overrides": [{"override_specifiers": [], **o} for o in doc.get("overrides") or []],
            "scheduled_charges": doc.get("scheduled_charges") or [],
            "usage_statement_schedule": doc.get("usage_statement_schedule") or {"frequency": "MONTHLY"},
        }
        if r.archived_at is not None:
            item["archived_at"] = r.archived_at
        out.append(item)
    return out


def contract_body(conn: Connection, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A `v1.contracts.create` body naming a package, with the package's terms resolved at its start."""
    extra = sorted(set(body) - set(CONTRACT_FIELDS_WITH_PACKAGE))
    if extra:
        raise BadRequest(
            f"{extra[0]}: cannot be combined with package_id/package_alias (the package sets it)"
        )
    if "package_id" in body and "package_alias" in body:
        raise BadRequest("package_id: give package_id or package_alias, not both")
    raw_start = body.get("starting_at")
    if not isinstance(raw_start, str):
        raise BadRequest("starting_at: required")
    start = parse_timestamp(raw_start, "starting_at")
    if "package_id" in body:
        if not isinstance(body["package_id"], str):
            raise BadRequest("package_id: must be a string")
        try:
            row = get_row(conn, tenant_id, body["package_id"])
        except NotFound:
            raise BadRequest(f"package_id: package {body['package_id']} not found") from None
        if row.archived_at is not None:
            raise BadRequest(f"package_id: package {row.id} is archived")
    else:
        if not isinstance(body["package_alias"], str):
            raise BadRequest("package_alias: must be a string")
        row = by_alias(conn, tenant_id, body["package_alias"], start)
    resolved = resolve(row.doc, start)
    out = {**resolved, **{k: v for k, v in body.items() if k != "package_alias"}}
    out["package_id"] = row.id
    return out
