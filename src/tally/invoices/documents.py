"""Invoice documents (issue 15): the issuer profile of a tenant, the bill-to of a customer, and the
sequential number, due date and frozen parties of an issued invoice.

Numbers: `<prefix>-<6-digit sequence>`, one sequence per tenant, gapless and never reused. A number is
given when an invoice leaves DRAFT (finalized, or voided while a draft), in the same transaction, by work
that runs just before COMMIT (`uow.pre_commit`): the tenant's counter row is bumped there, so its lock is
the last one a finalizer takes and is held only while it commits (no lock-order cycle with balances or
invoice rows), and a rolled-back finalization gives its number back. Several invoices issued in one
transaction (a worker batch) take consecutive numbers, tenants in id order.

The issuer, bill-to and due date are frozen into `invoices.document` with the number: an issued invoice
shows who issued it and to whom as of its issue, whatever changes later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tally.db import uow
from tally.db.upsert import insert_ignore
from tally.errors import BadRequest
from tally.invoices import render
from tally.invoices import repository as repo
from tally.invoices.document import InvoiceDoc
from tally.models.documents import (
    customer_billing_details,
    invoice_logos,
    invoice_number_counters,
    invoice_pdfs,
)
from tally.models.invoices import invoices
from tally.wire import format_timestamp, parse_timestamp

ISSUER = "issuer"  # key of the issuer profile in tenants.settings
DEFAULT_PREFIX = "INV"
DEFAULT_TERMS_DAYS = 30
NUMBER_DIGITS = 6
LOGO_MAX_BYTES = 256 * 1024
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_/.-]{0,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SVG_NS = "{http://www.w3.org/2000/svg}"
_TEXT_FIELDS = {"legal_name": 200, "tax_id": 64, "footer_text": 1000}


# ---------------------------------------------------------------------------------- field validation


def _text(name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: must be a string")
    value = value.strip()
    if len(value) > limit:
        raise BadRequest(f"{name}: at most {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise BadRequest(f"{name}: must not contain control characters")
    return value or None


def _lines(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 6:
        raise BadRequest(f"{name}: must be a list of at most 6 lines")
    out = []
    for i, line in enumerate(value):
        text = _text(f"{name}[{i}]", line, 200)
        if text is not None:
            if "\n" in text:
                raise BadRequest(f"{name}[{i}]: one line each, without line breaks")
            out.append(text)
    return out


def _email(name: str, value: Any) -> str | None:
    text = _text(name, value, 254)
    if text is not None and not _EMAIL.match(text):
        raise BadRequest(f"{name}: must be an email address")
    return text


def check_prefix(value: Any) -> str:
    if not isinstance(value, str) or not _PREFIX.match(value):
        raise BadRequest("invoice_number_prefix: 1 to 20 characters: letters, digits and _ / . - (not first)")
    return value


def check_terms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value):
        raise BadRequest("default_net_payment_terms_days: must be a whole number of days")
    if not 0 <= value <= 365:
        raise BadRequest("default_net_payment_terms_days: must be between 0 and 365")
    return int(value)


def check_logo(media_type: Any, data_base64: Any) -> tuple[str, bytes]:
    """A PNG or SVG logo: decoded, size-limited, and checked to be what it says it is. SVGs may not
    script or reference anything outside themselves (the renderer fetches nothing either)."""
    if media_type not in ("image/png", "image/svg+xml"):
        raise BadRequest("logo.media_type: must be image/png or image/svg+xml")
    if not isinstance(data_base64, str) or not data_base64:
        raise BadRequest("logo.data_base64: required (the image, base64-encoded)")
    if len(data_base64) > LOGO_MAX_BYTES * 4 // 3 + 8:
        raise BadRequest(f"logo.data_base64: the logo must be at most {LOGO_MAX_BYTES // 1024} KiB")
    try:
        data = base64.b64decode(data_base64, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("logo.data_base64: not valid base64") from None
    if len(data) > LOGO_MAX_BYTES:
        raise BadRequest(f"logo.data_base64: the logo must be at most {LOGO_MAX_BYTES // 1024} KiB")
    if media_type == "image/png":
        if not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
            raise BadRequest("logo.data_base64: not a PNG image")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if not (0 < width <= 4000 and 0 < height <= 4000):
            raise BadRequest("logo.data_base64: PNG dimensions must be between 1 and 4000 pixels")
        return media_type, data
    _check_svg(data)
    return media_type, data


def _check_svg(data: bytes) -> None:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BadRequest("logo.data_base64: SVG must not declare a DOCTYPE or entities")
    try:
        root = ET.fromstring(data)  # entities are refused above, so nothing expands
    except ET.ParseError:
        raise BadRequest("logo.data_base64: not a well-formed SVG image") from None
    if root.tag not in (f"{_SVG_NS}svg", "svg"):
        raise BadRequest("logo.data_base64: the root element must be <svg>")
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower()
        if tag in ("script", "foreignobject", "iframe"):
            raise BadRequest(f"logo.data_base64: SVG must not contain <{tag}>")
        for attr, value in el.attrib.items():
            name = attr.rsplit("}", 1)[-1].lower()
            if name.startswith("on"):
                raise BadRequest("logo.data_base64: SVG must not contain event handlers")
            if name == "href" and not value.startswith("#"):
                raise BadRequest("logo.data_base64: SVG must not reference anything outside itself")


# ------------------------------------------------------------------------------------ issuer profile


def issuer(conn: Connection, tenant_id: str) -> dict[str, Any]:
    """The tenant's issuer profile with defaults filled in (never the logo bytes: `logo_sha256`)."""
    stored = repo.tenant_settings(conn, tenant_id).get(ISSUER) or {}
    return {
        "legal_name": stored.get("legal_name"),
        "address_lines": list(stored.get("address_lines") or []),
        "tax_id": stored.get("tax_id"),
        "contact_email": stored.get("contact_email"),
        "footer_text": stored.get("footer_text"),
        "logo_sha256": stored.get("logo_sha256"),
        "logo_media_type": stored.get("logo_media_type"),
        "invoice_number_prefix": stored.get("invoice_number_prefix") or DEFAULT_PREFIX,
        "default_net_payment_terms_days": int(
            stored.get("default_net_payment_terms_days", DEFAULT_TERMS_DAYS)
        ),
    }


ISSUER_FIELDS = (
    "legal_name",
    "address_lines",
    "tax_id",
    "contact_email",
    "footer_text",
    "logo",
    "invoice_number_prefix",
    "default_net_payment_terms_days",
)


def update_issuer(conn: Connection, tenant_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply the given fields (absent: unchanged; null: cleared or back to the default)."""
    settings = repo.tenant_settings(conn, tenant_id)
    profile = dict(settings.get(ISSUER) or {})
    for name, value in changes.items():
        if name in _TEXT_FIELDS:
            profile[name] = _text(name, value, _TEXT_FIELDS[name])
        elif name == "address_lines":
            profile[name] = _lines(name, value)
        elif name == "contact_email":
            profile[name] = _email(name, value)
        elif name == "invoice_number_prefix":
            profile[name] = None if value is None else check_prefix(value)
        elif name == "default_net_payment_terms_days":
            if value is None:
                profile.pop(name, None)
            else:
                profile[name] = check_terms(value)
        elif name == "logo":
            if value is None:
                profile["logo_sha256"] = profile["logo_media_type"] = None
                continue
            if not isinstance(value, dict) or set(value) - {"media_type", "data_base64"}:
                raise BadRequest("logo: must be an object with media_type and data_base64")
            media_type, data = check_logo(value.get("media_type"), value.get("data_base64"))
            digest = hashlib.sha256(data).hexdigest()
            insert_ignore(
                conn,
                invoice_logos,
                {"tenant_id": tenant_id, "sha256": digest, "media_type": media_type, "data": data},
            )
            profile["logo_sha256"], profile["logo_media_type"] = digest, media_type
    settings[ISSUER] = profile
    repo.set_tenant_settings(conn, tenant_id, settings)
    return issuer(conn, tenant_id)


def logo(conn: Connection, tenant_id: str, sha256: str | None) -> tuple[str, bytes] | None:
    if not sha256:
        return None
    row = conn.execute(
        select(invoice_logos.c.media_type, invoice_logos.c.data).where(
            invoice_logos.c.tenant_id == tenant_id, invoice_logos.c.sha256 == sha256
        )
    ).first()
    return None if row is None else (row.media_type, bytes(row.data))


# -------------------------------------------------------------------------------------------- bill-to

BILL_TO_FIELDS = ("legal_name", "address_lines", "tax_id", "billing_email")


def bill_to(conn: Connection, tenant_id: str, customer_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(customer_billing_details.c.details).where(
            customer_billing_details.c.tenant_id == tenant_id,
            customer_billing_details.c.customer_id == customer_id,
        )
    ).first()
    stored = row.details if row is not None else {}
    return {
        "legal_name": stored.get("legal_name"),
        "address_lines": list(stored.get("address_lines") or []),
        "tax_id": stored.get("tax_id"),
        "billing_email": stored.get("billing_email"),
    }


def set_bill_to(
    conn: Connection, tenant_id: str, customer_id: str, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    details = bill_to(conn, tenant_id, customer_id)
    for name, value in changes.items():
        if name == "legal_name":
            details[name] = _text(name, value, 200)
        elif name == "tax_id":
            details[name] = _text(name, value, 64)
        elif name == "address_lines":
            details[name] = _lines(name, value)
        elif name == "billing_email":
            details[name] = _email(name, value)
    table = customer_billing_details
    values = {"tenant_id": tenant_id, "customer_id": customer_id, "details": details, "updated_at": now}
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table).values(values)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[table.c.tenant_id, table.c.customer_id],
            set_={"details": ins.excluded.details, "updated_at": ins.excluded.updated_at},
        )
    )
    return details


# -------------------------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class Issued:
    """An invoice that left DRAFT in this transaction and waits for its number."""

    tenant_id: str
    invoice_id: str
    customer_id: str
    issued_at: datetime
    net_payment_terms_days: int | None
    # The invoice JSON a request is about to answer with, if any: it gets the number too, so the answer
    # matches what a later read returns.
    doc: dict[str, Any] | None = None


def due_date(issued_at: datetime, contract_terms: int | None, tenant_default: int) -> datetime:
    """Issue date + the contract's net payment terms, else the tenant's default (whole days)."""
    days = contract_terms if contract_terms is not None else tenant_default
    return issued_at + timedelta(days=days)


def terms_of(doc: InvoiceDoc) -> int | None:
    value = doc.net_payment_terms_days
    return None if value is None else int(value)


def number_on_commit(conn: Connection, issued: Issued) -> None:
    """Give `issued` the tenant's next number when this transaction commits. Call it at the one place an
    invoice leaves DRAFT, in the transaction that does it."""
    todo: list[Issued] = uow.per_transaction(conn, "invoice_numbers", "", list)
    todo.append(issued)
    uow.pre_commit(conn, "invoice_numbers", lambda c: _assign(c, todo))


def format_number(prefix: str, seq: int) -> str:
    return f"{prefix}-{seq:0{NUMBER_DIGITS}d}"


def _bump(conn: Connection, tenant_id: str, count: int) -> int:
    """Add `count` to the tenant's counter (row-locked until commit); the new last number."""
    table = invoice_number_counters
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table).values(
        tenant_id=tenant_id, last_number=count
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[table.c.tenant_id], set_={"last_number": table.c.last_number + count}
    ).returning(table.c.last_number)
    return int(conn.execute(stmt).scalar_one())


def _assign(conn: Connection, todo: list[Issued]) -> None:
    by_tenant: dict[str, list[Issued]] = {}
    for item in todo:
        by_tenant.setdefault(item.tenant_id, []).append(item)
    for tenant_id in sorted(by_tenant):  # one lock order for every transaction
        # Only rows that still exist unnumbered: a savepoint (a historical import's preview) may have
        # rolled an issued invoice back after it was queued.
        ids = [i.invoice_id for i in by_tenant[tenant_id]]
        present = set(
            conn.execute(
                select(invoices.c.id).where(
                    invoices.c.tenant_id == tenant_id, invoices.c.id.in_(ids), invoices.c.number.is_(None)
                )
            ).scalars()
        )
        items = [i for i in by_tenant[tenant_id] if i.invoice_id in present]
        if not items:
            continue
        profile = issuer(conn, tenant_id)
        last = _bump(conn, tenant_id, len(items))
        for seq, item in enumerate(items, start=last - len(items) + 1):
            number = format_number(profile["invoice_number_prefix"], seq)
            terms = profile["default_net_payment_terms_days"]
            due = due_date(item.issued_at, item.net_payment_terms_days, terms)
            frozen = {
                "issuer": {k: v for k, v in profile.items() if k != "default_net_payment_terms_days"},
                "bill_to": bill_to(conn, tenant_id, item.customer_id),
                "due_date": format_timestamp(due),
            }
            done = conn.execute(
                update(invoices)
                .where(
                    invoices.c.tenant_id == tenant_id,
                    invoices.c.id == item.invoice_id,
                    invoices.c.number.is_(None),
                )
                .values(number=number, document=frozen)
            )
            if done.rowcount != 1:
                raise RuntimeError(f"invoice {item.invoice_id} could not be numbered")
            if item.doc is not None:
                item.doc["invoice_number"], item.doc["due_date"] = number, frozen["due_date"]


# ---------------------------------------------------------------------------------------- documents


def parties(conn: Connection, tenant_id: str, doc: InvoiceDoc, row: Any) -> render.Parties:
    """Who issues `doc` and to whom: frozen when it was numbered, else (a draft) as of now."""
    frozen = getattr(row, "document", None) if row is not None else None
    number = getattr(row, "number", None) if row is not None else None
    if frozen:
        profile = frozen["issuer"]
        return render.Parties(
            profile,
            frozen["bill_to"],
            number,
            parse_timestamp(frozen["due_date"], "due_date"),
            logo(conn, tenant_id, profile.get("logo_sha256")),
        )
    profile = issuer(conn, tenant_id)
    due = due_date(doc.issued_at, terms_of(doc), profile["default_net_payment_terms_days"])
    return render.Parties(
        profile,
        bill_to(conn, tenant_id, doc.customer_id),
        number,
        due,
        logo(conn, tenant_id, profile.get("logo_sha256")),
    )


def cached_pdf(conn: Connection, tenant_id: str, invoice_id: str, status: str) -> bytes | None:
    row = conn.execute(
        select(invoice_pdfs.c.pdf).where(
            invoice_pdfs.c.tenant_id == tenant_id,
            invoice_pdfs.c.invoice_id == invoice_id,
            invoice_pdfs.c.status == status,
        )
    ).first()
    return None if row is None else bytes(row.pdf)


def store_pdf(
    conn: Connection, tenant_id: str, invoice_id: str, status: str, body: bytes, now: datetime
) -> None:
    insert_ignore(
        conn,
        invoice_pdfs,
        {"tenant_id": tenant_id, "invoice_id": invoice_id, "status": status, "pdf": body, "created_at": now},
    )
