"""Typed contract terms (issue 13 §1): parse + dump of a stored commit document in three ways, to choose
the representation of `tally.contracts.terms.model`.

The document is a realistic stored PREPAID commit (a year of monthly invoice items, two access segments,
specifiers), decoded the way the JSON column decodes it. Each approach parses it into frozen values and
dumps it back to the stored JSON:
- `dataclass`: frozen dataclasses with hand-written parse/dump (what `rating.from_wire` does);
- `pydantic`: the same dataclasses through a pydantic `TypeAdapter` (validate_python / dump_python);
- `msgspec`: `contracts.terms.model.Balance` (msgspec Structs, `msgspec.convert` / `to_builtins`).

    RESULT terms_parse_dump approach=msgspec us_per_doc=...

    .venv/bin/python bench/terms_bench.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pydantic

from tally.contracts.terms import model
from tally.wire import decode_json, encode_json, format_timestamp, parse_timestamp


def _document() -> dict[str, Any]:
    items = [
        {"id": f"item-{m}", "timestamp": f"2026-{m:02d}-01T00:00:00Z", "amount": Decimal("833.33")}
        for m in range(1, 13)
    ]
    doc = {
        "product_id": "p-commit",
        "type": "PREPAID",
        "applicable_product_ids": ["p-usage-1", "p-usage-2"],
        "priority": 2,
        "rate_type": "LIST_RATE",
        "specifiers": [{"product_id": "p-usage-1", "pricing_group_values": {"region": "eu"}}],
        "name": "Annual commit",
        "id": "c-1",
        "access_schedule": {
            "access_type": "SPEND",
            "schedule_items": [
                {
                    "id": "s-1",
                    "amount": 5000,
                    "starting_at": "2026-01-01T00:00:00Z",
                    "ending_before": "2026-07-01T00:00:00Z",
                },
                {
                    "id": "s-2",
                    "amount": 5000,
                    "starting_at": "2026-07-01T00:00:00Z",
                    "ending_before": "2027-01-01T00:00:00Z",
                },
            ],
            "credit_type_id": "usd",
        },
        "created_at": "2026-01-01T00:00:00Z",
        "invoice_schedule": {"credit_type_id": "usd", "schedule_items": items},
        "cost_basis": Decimal("0.999996"),
    }
    decoded: dict[str, Any] = decode_json(encode_json(doc))
    return decoded


@dataclass(frozen=True, kw_only=True)
class Item:
    id: str
    timestamp: datetime
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class Seg:
    id: str
    amount: Decimal
    starting_at: datetime
    ending_before: datetime


@dataclass(frozen=True, kw_only=True)
class Access:
    access_type: str
    schedule_items: tuple[Seg, ...]
    credit_type_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Invoices:
    credit_type_id: str
    schedule_items: tuple[Item, ...]


@dataclass(frozen=True, kw_only=True)
class Spec:
    product_id: str | None = None
    pricing_group_values: dict[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class Commit:
    product_id: str
    type: str
    applicable_product_ids: tuple[str, ...] | None
    priority: Decimal | None
    rate_type: str | None
    specifiers: tuple[Spec, ...] | None
    name: str | None
    id: str
    access_schedule: Access
    created_at: datetime
    invoice_schedule: Invoices | None
    cost_basis: Decimal | None


def _by_hand(d: dict[str, Any]) -> dict[str, Any]:
    a, inv = d["access_schedule"], d["invoice_schedule"]
    c = Commit(
        product_id=d["product_id"],
        type=d["type"],
        applicable_product_ids=tuple(d["applicable_product_ids"]),
        priority=Decimal(d["priority"]),
        rate_type=d["rate_type"],
        specifiers=tuple(Spec(**s) for s in d["specifiers"]),
        name=d["name"],
        id=d["id"],
        access_schedule=Access(
            access_type=a["access_type"],
            credit_type_id=a["credit_type_id"],
            schedule_items=tuple(
                Seg(
                    id=s["id"],
                    amount=Decimal(s["amount"]),
                    starting_at=parse_timestamp(s["starting_at"], "s"),
                    ending_before=parse_timestamp(s["ending_before"], "e"),
                )
                for s in a["schedule_items"]
            ),
        ),
        created_at=parse_timestamp(d["created_at"], "c"),
        invoice_schedule=Invoices(
            credit_type_id=inv["credit_type_id"],
            schedule_items=tuple(
                Item(id=i["id"], timestamp=parse_timestamp(i["timestamp"], "t"), amount=Decimal(i["amount"]))
                for i in inv["schedule_items"]
            ),
        ),
        cost_basis=d["cost_basis"],
    )
    return {
        "product_id": c.product_id,
        "type": c.type,
        "applicable_product_ids": list(c.applicable_product_ids or ()),
        "priority": c.priority,
        "rate_type": c.rate_type,
        "specifiers": [{k: v for k, v in vars(s).items() if v is not None} for s in c.specifiers or ()],
        "name": c.name,
        "id": c.id,
        "access_schedule": {
            "access_type": c.access_schedule.access_type,
            "schedule_items": [
                {
                    "id": s.id,
                    "amount": s.amount,
                    "starting_at": format_timestamp(s.starting_at),
                    "ending_before": format_timestamp(s.ending_before),
                }
                for s in c.access_schedule.schedule_items
            ],
            "credit_type_id": c.access_schedule.credit_type_id,
        },
        "created_at": format_timestamp(c.created_at),
        "invoice_schedule": {
            "credit_type_id": c.invoice_schedule.credit_type_id if c.invoice_schedule else None,
            "schedule_items": [
                {"id": i.id, "timestamp": format_timestamp(i.timestamp), "amount": i.amount}
                for i in (c.invoice_schedule.schedule_items if c.invoice_schedule else ())
            ],
        },
        "cost_basis": c.cost_basis,
    }


_ADAPTER = pydantic.TypeAdapter(Commit)


def _pydantic(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _ADAPTER.dump_python(_ADAPTER.validate_python(d), exclude_none=True)
    return out


def _msgspec(d: dict[str, Any]) -> dict[str, Any]:
    return model.dump(model.parse(d, model.Balance))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args()
    doc = _document()
    for name, fn in (("dataclass", _by_hand), ("pydantic", _pydantic), ("msgspec", _msgspec)):
        fn(doc)
        started = time.perf_counter()
        for _ in range(args.runs):
            fn(doc)
        per = (time.perf_counter() - started) / args.runs * 1e6
        print(f"RESULT terms_parse_dump approach={name} us_per_doc={per:.1f}")


if __name__ == "__main__":
    main()
