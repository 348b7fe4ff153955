"""Contract terms: validate request pieces (SPEC §5) and normalize them into stored documents.

Requests are validated by the pydantic models first; here they arrive as `model_dump(exclude_none=True)`
dicts (timestamps still datetimes), so the same rules serve create, amend, v2 edit and customer-level
commits. Every term gets an id; recurring invoice schedules are expanded into dated items (with ids) so
that invoices can point at the item they bill. The result is the stored document `model.Terms` parses.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tally.contracts.terms.model import plain
from tally.credit_types import service as credit_types
from tally.credit_types.builtin import USD_CENTS_ID
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.money import custom_pricing_unit
from tally.money.context import div, total
from tally.money.credit_types import FIAT_BY_ID
from tally.products import service as products
from tally.rating.from_wire import schedule_from_wire
from tally.rating.inputs import CommitType, RatingInputError
from tally.rating.schedules import expand

Doc = dict[str, Any]


def dump(model: Any) -> Doc:
    out: Doc = model.model_dump(exclude_none=True)
    return out


class Terms:
    """Validation context for one request: caches products and credit types, maps temporary ids."""

    def __init__(self, conn: Connection, tenant_id: str, at: datetime, now: datetime) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.at = at
        self.now = now
        self._products: dict[str, products.ProductView] = {}
        self._credit_types: dict[str, credit_types.CreditType] = {}
        self.temporary_ids: dict[str, str] = {}

    # ------------------------------------------------------------------------------------ lookups

    def preload(self, ids: Iterable[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if i not in self._products]
        if wanted:
            self._products.update(products.get_many(self.conn, self.tenant_id, wanted, self.at))

    def product(self, product_id: str, field: str, types: set[str] | None = None) -> products.ProductView:
        self.preload([product_id])
        found = self._products.get(product_id)
        if found is None:
            raise BadRequest(f"{field}: product {product_id} not found")
        if found.archived_at is not None and found.archived_at <= self.at:
            raise BadRequest(f"{field}: product {product_id} is archived")
        if types is not None and found.type not in types:
            wanted = " or ".join(sorted(types))
            raise BadRequest(
                f"{field}: product {product_id} is a {found.type} product; a {wanted} product is required"
            )
        return found

    def credit_type(self, credit_type_id: str, field: str) -> credit_types.CreditType:
        if credit_type_id not in self._credit_types:
            try:
                self._credit_types[credit_type_id] = credit_types.get(
                    self.conn, self.tenant_id, credit_type_id
                )
            except NotFound:
                raise BadRequest(f"{field}: credit type {credit_type_id} not found") from None
        return self._credit_types[credit_type_id]

    # ------------------------------------------------------------------------------- primitives

    @staticmethod
    def range(start: datetime, end: datetime | None, field: str, *, hours: bool = True) -> None:
        if hours:
            hour_aligned(start, f"{field}.starting_at")
            if end is not None:
                hour_aligned(end, f"{field}.ending_before")
        if end is not None and end <= start:
            raise BadRequest(f"{field}.ending_before: must be after starting_at")

    @staticmethod
    def non_negative(value: Decimal | None, field: str) -> None:
        if value is not None and value < 0:
            raise BadRequest(f"{field}: must not be negative")

    @staticmethod
    def positive(value: Decimal | None, field: str) -> None:
        if value is not None and value <= 0:
            raise BadRequest(f"{field}: must be greater than 0")

    def applicability(self, d: Doc, field: str) -> None:
        """applicable_product_ids / applicable_product_tags, or specifiers: never both (SPEC §5.6)."""
        if d.get("specifiers") and (d.get("applicable_product_ids") or d.get("applicable_product_tags")):
            raise BadRequest(
                f"{field}: specifiers cannot be combined with applicable_product_ids/applicable_product_tags"
            )
        for i, pid in enumerate(d.get("applicable_product_ids") or []):
            self.product(pid, f"{field}.applicable_product_ids[{i}]")
        for i, s in enumerate(d.get("specifiers") or []):
            if not s:
                raise BadRequest(f"{field}.specifiers[{i}]: a specifier needs at least one condition")
            if s.get("product_id"):
                self.product(s["product_id"], f"{field}.specifiers[{i}].product_id")

    # -------------------------------------------------------------------------------- schedules

    def invoice_schedule(self, s: Doc, field: str, default_credit_type: str = USD_CENTS_ID) -> Doc:
        """Validate a point-in-time schedule and expand it into dated items with ids."""
        items = s.get("schedule_items") or []
        rec = s.get("recurring_schedule")
        if not items and rec is None:
            raise BadRequest(f"{field}: needs schedule_items or recurring_schedule")
        if items and rec is not None:
            raise BadRequest(f"{field}: give schedule_items or recurring_schedule, not both")
        ct_id = s.get("credit_type_id") or default_credit_type
        ct = self.credit_type(ct_id, f"{field}.credit_type_id")
        for i, item in enumerate(items):
            self._amount_or_price(item, f"{field}.schedule_items[{i}]")
        if rec is not None:
            self._amount_or_price(rec, f"{field}.recurring_schedule")
            if rec["ending_before"] <= rec["starting_at"]:
                raise BadRequest(f"{field}.recurring_schedule.ending_before: must be after starting_at")
        unit = FIAT_BY_ID.get(ct.id) or custom_pricing_unit(ct.id, ct.name, 6)
        owner = new_id()
        try:
            due = expand(schedule_from_wire(plain({**s, "schedule_items": items})), owner, unit)  # type: ignore[arg-type]
        except RatingInputError as exc:
            raise BadRequest(f"{field}: {exc}") from None
        if not due:
            raise BadRequest(f"{field}.recurring_schedule: produces no invoice dates")
        out_items = [
            {
                "id": new_id(),
                "timestamp": d.timestamp,
                "amount": d.amount,
                "unit_price": d.unit_price,
                "quantity": d.quantity,
            }
            for d in due
        ]
        out: Doc = {"credit_type_id": ct.id, "schedule_items": out_items}
        if s.get("do_not_invoice") is not None:
            out["do_not_invoice"] = s["do_not_invoice"]
        if rec is not None:
            out["recurring_schedule_source"] = rec
        return out

    def _amount_or_price(self, d: Doc, field: str) -> None:
        amount, price, qty = d.get("amount"), d.get("unit_price"), d.get("quantity")
        if amount is not None and (price is not None or qty is not None):
            raise BadRequest(f"{field}: give amount, or unit_price (and quantity), not both")
        if amount is None and price is None:
            raise BadRequest(f"{field}: needs amount or unit_price")
        self.non_negative(amount, f"{field}.amount")
        self.non_negative(price, f"{field}.unit_price")
        self.non_negative(qty, f"{field}.quantity")

    # ---------------------------------------------------------------------------- commits/credits

    def balance(self, c: Doc, kind: str, field: str) -> Doc:
        """A commit (PREPAID/POSTPAID) or credit (CREDIT): validated, with ids on it and its segments."""
        self.product(c["product_id"], f"{field}.product_id", {"FIXED"})
        access = c.get("access_schedule")
        if access is None:
            raise BadRequest(f"{field}.access_schedule: required")
        items = access.get("schedule_items") or []
        if not items:
            raise BadRequest(f"{field}.access_schedule.schedule_items: at least one segment is required")
        access_type = access.get("access_type", "SPEND")
        if access_type == "QUANTITY" and access.get("credit_type_id"):
            raise BadRequest(f"{field}.access_schedule.credit_type_id: not allowed with access_type QUANTITY")
        ct_id = access.get("credit_type_id") or (None if access_type == "QUANTITY" else USD_CENTS_ID)
        if ct_id is not None:
            self.credit_type(ct_id, f"{field}.access_schedule.credit_type_id")
        segments = []
        for i, item in enumerate(items):
            where = f"{field}.access_schedule.schedule_items[{i}]"
            self.range(item["starting_at"], item["ending_before"], where)
            self.non_negative(item["amount"], f"{where}.amount")
            segments.append({"id": new_id(), **item})
        rf = c.get("rollover_fraction")
        if rf is not None and not (0 <= rf <= 1):
            raise BadRequest(f"{field}.rollover_fraction: must be between 0 and 1")
        self.positive(c.get("priority"), f"{field}.priority")
        self.applicability(c, field)
        doc: Doc = {
            k: v
            for k, v in c.items()
            if k not in ("access_schedule", "invoice_schedule", "amount", "custom_fields")
        }
        doc["id"] = new_id()
        doc["type"] = kind
        doc["access_schedule"] = {"access_type": access_type, "schedule_items": segments}
        if ct_id is not None:
            doc["access_schedule"]["credit_type_id"] = ct_id
        doc.setdefault("rate_type", "LIST_RATE")
        doc["created_at"] = self.now
        granted = total(s["amount"] for s in segments)
        inv = c.get("invoice_schedule")
        if kind == CommitType.CREDIT and inv is not None:
            raise BadRequest(f"{field}.invoice_schedule: credits are free and take no invoice schedule")
        if inv is not None:
            doc["invoice_schedule"] = self.invoice_schedule(
                inv, f"{field}.invoice_schedule", ct_id or USD_CENTS_ID
            )
            paid = total(i["amount"] for i in doc["invoice_schedule"]["schedule_items"])
            doc["cost_basis"] = div(paid, granted) if granted else Decimal(0)
        elif kind != CommitType.POSTPAID:
            doc["cost_basis"] = Decimal(0)
        if kind == CommitType.POSTPAID:
            self._postpaid(c, doc, field)
        if c.get("temporary_id"):
            if c["temporary_id"] in self.temporary_ids:
                raise BadRequest(f"{field}.temporary_id: {c['temporary_id']!r} is used twice")
            self.temporary_ids[c["temporary_id"]] = doc["id"]
        return doc

    @staticmethod
    def _postpaid(c: Doc, doc: Doc, field: str) -> None:
        segments = doc["access_schedule"]["schedule_items"]
        inv = doc.get("invoice_schedule")
        if len(segments) != 1:
            raise BadRequest(f"{field}.access_schedule: a POSTPAID commit has exactly one schedule item")
        if (
            inv is None
            or len(inv["schedule_items"]) != 1
            or (c.get("invoice_schedule") or {}).get("recurring_schedule")
        ):
            raise BadRequest(f"{field}.invoice_schedule: a POSTPAID commit has exactly one schedule item")
        if inv["schedule_items"][0]["amount"] != segments[0]["amount"]:
            raise BadRequest(f"{field}: a POSTPAID commit's access and invoice amounts must be equal")
        doc["cost_basis"] = Decimal(1)

    # ------------------------------------------------------------------------------- overrides

    def override(self, o: Doc, field: str, prioritization: str) -> Doc:
        self.range(o["starting_at"], o.get("ending_before"), field)
        by_product = o.get("product_id") is not None or bool(o.get("applicable_product_tags"))
        specs = o.get("override_specifiers") or []
        if by_product == bool(specs):
            raise BadRequest(
                f"{field}: target exactly one way: product_id/applicable_product_tags, or override_specifiers"
            )
        if o.get("product_id"):
            self.product(o["product_id"], f"{field}.product_id")
        kind = o.get("type") or (
            "OVERWRITE"
            if o.get("overwrite_rate")
            else "TIERED"
            if o.get("tiers")
            else "MULTIPLIER"
            if o.get("multiplier") is not None
            else None  # entitlement only: changes whether the product may be used, not its price
        )
        if kind is None and o.get("entitled") is None:
            raise BadRequest(f"{field}: an override must set a type (with its rate) or entitled")
        if kind == "MULTIPLIER":
            if o.get("multiplier") is None:
                raise BadRequest(f"{field}.multiplier: required for a MULTIPLIER override")
            self.non_negative(o["multiplier"], f"{field}.multiplier")
        if kind == "OVERWRITE" and o.get("overwrite_rate") is None:
            raise BadRequest(f"{field}.overwrite_rate: required for an OVERWRITE override")
        if kind == "TIERED":
            if not o.get("tiers"):
                raise BadRequest(f"{field}.tiers: a TIERED override needs at least one tier")
            if prioritization != "EXPLICIT":
                raise BadRequest(
                    f"{field}: TIERED overrides require multiplier_override_prioritization EXPLICIT"
                )
            for i, t in enumerate(o["tiers"]):
                self.non_negative(t["multiplier"], f"{field}.tiers[{i}].multiplier")
                self.positive(t.get("size"), f"{field}.tiers[{i}].size")
        if kind != "MULTIPLIER" and o.get("multiplier") is not None:
            raise BadRequest(f"{field}.multiplier: only for MULTIPLIER overrides")
        if kind != "OVERWRITE" and o.get("overwrite_rate") is not None:
            raise BadRequest(f"{field}.overwrite_rate: only for OVERWRITE overrides")
        if kind != "TIERED" and o.get("tiers"):
            raise BadRequest(f"{field}.tiers: only for TIERED overrides")
        self.positive(o.get("priority"), f"{field}.priority")
        if o.get("target") and not o.get("is_commit_specific"):
            raise BadRequest(f"{field}.target: only for commit-specific overrides")
        out = dict(o)
        out["type"] = kind
        out["id"] = new_id()
        out["created_at"] = self.now
        if o.get("overwrite_rate"):
            out["overwrite_rate"] = self._overwrite(o["overwrite_rate"], f"{field}.overwrite_rate")
        out["override_specifiers"] = [
            self._specifier(s, o, f"{field}.override_specifiers[{i}]") for i, s in enumerate(specs)
        ]
        if not specs:
            out.pop("override_specifiers")
        return out

    def _overwrite(self, r: Doc, field: str) -> Doc:
        rt = r["rate_type"]
        if rt in ("FLAT", "PERCENTAGE", "SUBSCRIPTION") and r.get("price") is None:
            raise BadRequest(f"{field}.price: required for rate_type {rt}")
        if rt in ("TIERED", "TIERED_PERCENTAGE") and not r.get("tiers"):
            raise BadRequest(f"{field}.tiers: required for rate_type {rt}")
        if rt == "CUSTOM" and r.get("custom_rate") is None:
            raise BadRequest(f"{field}.custom_rate: required for rate_type CUSTOM")
        self.non_negative(r.get("price"), f"{field}.price")
        out = dict(r)
        if rt not in ("PERCENTAGE", "TIERED_PERCENTAGE"):
            out["credit_type_id"] = self.credit_type(
                r.get("credit_type_id") or USD_CENTS_ID, f"{field}.credit_type_id"
            ).id
        return out

    def _specifier(self, s: Doc, o: Doc, field: str) -> Doc:
        ids = [k for k in ("commit_ids", "recurring_commit_ids", "any_commit_or_credit_ids") if s.get(k)]
        if ids and not o.get("is_commit_specific"):
            raise BadRequest(f"{field}.{ids[0]}: only for commit-specific overrides")
        plain_keys = [
            k for k in s if k not in ("commit_ids", "recurring_commit_ids", "any_commit_or_credit_ids")
        ]
        if not plain_keys:
            raise BadRequest(f"{field}: needs a product_id, product_tags or group-value condition")
        if s.get("product_id"):
            self.product(s["product_id"], f"{field}.product_id")
        out = dict(s)
        for k in ids:
            out[k] = [self.temporary_ids.get(x, x) for x in s[k]]
        return out

    # ------------------------------------------------------------------------- other terms

    def scheduled(self, d: Doc, field: str, types: set[str] | None = None) -> Doc:
        """A scheduled charge or discount: a FIXED product billed on a schedule."""
        self.product(d["product_id"], f"{field}.product_id", types or {"FIXED"})
        out = {k: v for k, v in d.items() if k != "custom_fields"}
        out["id"] = new_id()
        out["schedule"] = self.invoice_schedule(d["schedule"], f"{field}.schedule")
        return out

    def subscription(
        self, s: Doc, field: str, contract_start: datetime, contract_end: datetime | None
    ) -> Doc:
        rate = s["subscription_rate"]
        self.product(rate["product_id"], f"{field}.subscription_rate.product_id", {"SUBSCRIPTION"})
        start = s.get("starting_at") or contract_start
        end = s.get("ending_before") or contract_end
        self.range(start, end, field)
        if start < contract_start:
            raise BadRequest(f"{field}.starting_at: must not be before the contract starts")
        mode = s.get("quantity_management_mode", "QUANTITY_ONLY")
        if mode == "SEAT_BASED":
            if s.get("seat_config") is None:
                raise BadRequest(f"{field}.seat_config: required for SEAT_BASED subscriptions")
            if s.get("initial_quantity") is not None:
                raise BadRequest(f"{field}.initial_quantity: not allowed for SEAT_BASED subscriptions")
            ids = s["seat_config"]["initial_seat_ids"]
            for k, x in enumerate(ids):
                if not x or x in ids[:k]:
                    raise BadRequest(f"{field}.seat_config.initial_seat_ids[{k}]: empty or listed twice")
            free = s["seat_config"].get("initial_unassigned_seats")
            if free is not None and (free < 0 or free != free.to_integral_value()):
                raise BadRequest(
                    f"{field}.seat_config.initial_unassigned_seats: must be a whole number, not negative"
                )
        elif s.get("initial_quantity") is None:
            raise BadRequest(f"{field}.initial_quantity: required for QUANTITY_ONLY subscriptions")
        elif s.get("seat_config") is not None:
            raise BadRequest(f"{field}.seat_config: only for SEAT_BASED subscriptions")
        self.non_negative(s.get("initial_quantity"), f"{field}.initial_quantity")
        proration = dict(s["proration"])
        proration.setdefault("is_prorated", True)
        proration.setdefault("invoice_behavior", "BILL_IMMEDIATELY")
        if proration["invoice_behavior"] == "BILL_IMMEDIATELY" and s["collection_schedule"] == "ARREARS":
            proration["invoice_behavior"] = "BILL_ON_NEXT_COLLECTION_DATE"
        out = {k: v for k, v in s.items() if k not in ("custom_fields",)}
        out.update(
            id=new_id(),
            created_at=self.now,
            starting_at=start,
            proration=proration,
            quantity_management_mode=mode,
        )
        if end is not None:
            out["ending_before"] = end
        if mode == "SEAT_BASED":
            seats = s["seat_config"]
            out["initial_quantity"] = Decimal(len(seats["initial_seat_ids"])) + seats.get(
                "initial_unassigned_seats", Decimal(0)
            )
        if s.get("temporary_id"):
            self.temporary_ids[s["temporary_id"]] = out["id"]
        return out

    def recurring(self, r: Doc, field: str, credit: bool) -> Doc:
        self.product(r["product_id"], f"{field}.product_id", {"FIXED"})
        self.range(r["starting_at"], r.get("ending_before"), field)
        acc = r["access_amount"]
        self.non_negative(acc["unit_price"], f"{field}.access_amount.unit_price")
        self.non_negative(acc.get("quantity"), f"{field}.access_amount.quantity")
        self.credit_type(acc["credit_type_id"], f"{field}.access_amount.credit_type_id")
        if not credit and r.get("invoice_amount") is not None:
            inv = r["invoice_amount"]
            self.non_negative(inv["unit_price"], f"{field}.invoice_amount.unit_price")
            self.non_negative(inv["quantity"], f"{field}.invoice_amount.quantity")
            self.credit_type(inv["credit_type_id"], f"{field}.invoice_amount.credit_type_id")
        self.positive(r["commit_duration"]["value"], f"{field}.commit_duration.value")
        self.positive(r["priority"], f"{field}.priority")
        rf = r.get("rollover_fraction")
        if rf is not None and not (0 <= rf <= 1):
            raise BadRequest(f"{field}.rollover_fraction: must be between 0 and 1")
        self.applicability(r, field)
        out = dict(r)
        out["id"] = new_id()
        out.setdefault("rate_type", "LIST_RATE")
        out.setdefault("proration", "FIRST_AND_LAST")
        out["commit_duration"] = {"unit": "PERIODS", **r["commit_duration"]}
        if r.get("temporary_id"):
            self.temporary_ids[r["temporary_id"]] = out["id"]
        return out

    def professional_service(self, p: Doc, field: str) -> Doc:
        self.product(p["product_id"], f"{field}.product_id", {"PRO_SERVICE"})
        for k in ("max_amount", "quantity", "unit_price"):
            self.non_negative(p[k], f"{field}.{k}")
        out = {k: v for k, v in p.items() if k != "custom_fields"}
        out["id"] = new_id()
        return out
