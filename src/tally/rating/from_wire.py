"""Build engine inputs from plain dicts shaped like Metronome's JSON.

Values may be str, int or Decimal (never float); timestamps are RFC 3339 strings or aware datetimes.
The library API (``tally.invoices.wire.rate_contract``) rates them and answers in Metronome's names.
Example (a notebook)::

    from tally.invoices.wire import rate_contract
    invoice = rate_contract(
        contract={"id": "k1", "customer_id": "c1", "starting_at": "2025-03-01T00:00:00Z"},
        rate_card={"id": "rc", "rates": [{"product_id": "api", "rate_type": "FLAT", "price": "2",
                                          "starting_at": "2025-01-01T00:00:00Z"}]},
        products=[{"id": "api", "name": "API calls", "type": "USAGE"}],
        usage=[{"product_id": "api", "timestamp": "2025-03-04T10:00:00Z", "quantity": "600"}],
        period={"starting_at": "2025-03-01T00:00:00Z", "ending_before": "2025-04-01T00:00:00Z"},
    )
    invoice["total"]  # "1200" (USD cents)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tally.money import CreditTypeConversion, RoundingMode, custom_pricing_unit, fiat, to_decimal
from tally.money.credit_types import FIAT_BY_ID, USD
from tally.rating.inputs import (
    AccessSegment,
    AccessType,
    AmountDistribution,
    AnchorDay,
    BalanceRateType,
    CollectionSchedule,
    Commit,
    CommitRate,
    CommitType,
    Contract,
    ConversionOperation,
    Discount,
    Frequency,
    Override,
    OverrideTarget,
    OverrideTier,
    OverrideType,
    OverwriteRate,
    Prioritization,
    Product,
    ProductType,
    ProrationRounding,
    QuantityConversion,
    QuantityRounding,
    QuantityUpdate,
    Rate,
    RateCard,
    RateType,
    RatingInputError,
    RecurringSchedule,
    Schedule,
    ScheduledCharge,
    ScheduleItem,
    Specifier,
    Subscription,
    Tier,
    UsageRecord,
    UsageStatementSchedule,
    group_values,
)
from tally.rating.periods import utc

Json = Mapping[str, Any]


def ts(value: Any) -> datetime:
    """RFC 3339 (``Z`` or an offset) or an aware datetime -> aware UTC datetime."""
    if isinstance(value, datetime):
        return utc(value)
    if not isinstance(value, str):
        raise RatingInputError(f"not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RatingInputError(f"not an RFC 3339 timestamp: {value!r}") from None
    return utc(parsed)


def _ts_opt(value: Any) -> datetime | None:
    return None if value is None else ts(value)


def _dec(value: Any) -> Decimal:
    try:
        return to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise RatingInputError(str(exc)) from None


def _dec_opt(value: Any) -> Decimal | None:
    return None if value is None else _dec(value)


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


def _tiers(raw: Any) -> tuple[Tier, ...]:
    return tuple(Tier(price=_dec(t["price"]), size=_dec_opt(t.get("size"))) for t in raw or ())


def _freq(value: Any) -> Frequency | None:
    return None if value is None else Frequency(value)


def _specifiers(raw: Any) -> tuple[Specifier, ...]:
    return tuple(
        Specifier(
            product_id=s.get("product_id"),
            product_tags=_strs(s.get("product_tags")),
            pricing_group_values=group_values(s.get("pricing_group_values")),
            presentation_group_values=group_values(s.get("presentation_group_values")),
            billing_frequency=_freq(s.get("billing_frequency")),
        )
        for s in raw or ()
    )


def product_from_wire(p: Json) -> Product:
    conv = p.get("quantity_conversion")
    rnd = p.get("quantity_rounding")
    return Product(
        id=p["id"],
        name=p.get("name", p["id"]),
        type=ProductType("FIXED" if p.get("type") == "PROFESSIONAL_SERVICE" else p.get("type", "USAGE")),
        tags=_strs(p.get("tags")),
        quantity_conversion=QuantityConversion(
            _dec(conv["conversion_factor"]), ConversionOperation(conv["operation"]), conv.get("name")
        )
        if conv
        else None,
        quantity_rounding=QuantityRounding(RoundingMode(rnd["rounding_method"]), int(rnd["decimal_places"]))
        if rnd
        else None,
        pricing_group_key=_strs(p.get("pricing_group_key")),
        presentation_group_key=_strs(p.get("presentation_group_key")),
        composite_product_ids=_strs(p.get("composite_product_ids")),
        composite_tags=_strs(p.get("composite_tags")),
        include_composite_spend=bool(p.get("include_composite_spend", False)),
        exclude_free_usage=bool(p.get("exclude_free_usage", False)),
    )


def rate_from_wire(r: Json) -> Rate:
    cr = r.get("commit_rate")
    return Rate(
        product_id=r["product_id"],
        rate_type=RateType(r["rate_type"]),
        starting_at=ts(r["starting_at"]),
        ending_before=_ts_opt(r.get("ending_before")),
        entitled=bool(r.get("entitled", True)),
        price=_dec_opt(r.get("price")),
        tiers=_tiers(r.get("tiers")),
        quantity=_dec_opt(r.get("quantity")),
        is_prorated=bool(r.get("is_prorated", True)),
        billing_frequency=_freq(r.get("billing_frequency")),
        pricing_group_values=group_values(r.get("pricing_group_values")),
        credit_type_id=r.get("credit_type_id"),
        commit_rate=CommitRate(RateType(cr["rate_type"]), _dec_opt(cr.get("price")), _tiers(cr.get("tiers")))
        if cr
        else None,
        custom_rate=r.get("custom_rate"),
        minimum=_dec_opt(r.get("minimum")),
    )


def rate_card_from_wire(rc: Json, credit_types: Sequence[Json] = ()) -> RateCard:
    fiat_id = rc.get("fiat_credit_type_id")
    return RateCard(
        id=rc.get("id", "rate-card"),
        rates=tuple(rate_from_wire(r) for r in rc.get("rates", ())),
        fiat_credit_type=FIAT_BY_ID[fiat_id] if fiat_id else USD,
        product_order=_strs(rc.get("product_order")),
        credit_type_conversions=tuple(
            CreditTypeConversion(c["custom_credit_type_id"], _dec(c["fiat_per_custom_credit"]))
            for c in rc.get("credit_type_conversions", ())
        ),
        custom_credit_types=tuple(
            custom_pricing_unit(c["id"], c.get("name", c["id"]), int(c.get("decimal_places", 6)))
            for c in credit_types
        ),
    )


def override_commit_ids(commit_ids: Iterable[str], per_specifier: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """An override's commits: its own `commit_ids`, then each override specifier's, in order."""
    return tuple(commit_ids) + tuple(cid for ids in per_specifier for cid in ids)


def segment_id(commit_id: str, n: int) -> str:
    """The id of a commit's `n`th access segment when the document gives none."""
    return f"{commit_id}:{n}"


def subscription_proration(proration: Json | None) -> dict[str, Any]:
    """A subscription's `proration` object as the engine's `Subscription` fields."""
    p = proration or {}
    rounding = p.get("rounding")
    return {
        "is_prorated": bool(p.get("is_prorated", True)),
        "bill_immediately": p.get("invoice_behavior", "BILL_IMMEDIATELY") == "BILL_IMMEDIATELY",
        "proration_rounding": ProrationRounding(
            int(rounding["decimal_places"]), RoundingMode(rounding["rounding_method"])
        )
        if rounding
        else None,
    }


def quantity_updates(raw: Iterable[Json] | None) -> tuple[QuantityUpdate, ...]:
    return tuple(
        QuantityUpdate(ts(u["starting_at"]), _dec_opt(u.get("quantity")), _dec_opt(u.get("quantity_delta")))
        for u in raw or ()
    )


def on_scheduled_invoice(invoice_placement: str | None) -> bool:
    """`billing_cycle_config.invoice_placement`: every charge of the subscription on a SCHEDULED invoice."""
    return invoice_placement == "ON_SCHEDULED_INVOICE"


def charges_on_usage_invoices(value: str | None) -> bool:
    """`scheduled_charges_on_usage_invoices`: ALL puts scheduled charges on the usage invoices."""
    return value == "ALL"


def override_from_wire(o: Json, i: int) -> Override:
    ow = o.get("overwrite_rate")
    return Override(
        id=o.get("id", f"override-{i}"),
        starting_at=ts(o["starting_at"]),
        ending_before=_ts_opt(o.get("ending_before")),
        type=OverrideType(o["type"]) if o.get("type") else None,
        multiplier=_dec_opt(o.get("multiplier")),
        overwrite_rate=OverwriteRate(
            RateType(ow["rate_type"]),
            _dec_opt(ow.get("price")),
            _tiers(ow.get("tiers")),
            _dec_opt(ow.get("quantity")),
            bool(ow.get("is_prorated", True)),
            ow.get("credit_type_id"),
        )
        if ow
        else None,
        tiers=tuple(OverrideTier(_dec(t["multiplier"]), _dec_opt(t.get("size"))) for t in o.get("tiers", ())),
        entitled=o.get("entitled"),
        priority=_dec_opt(o.get("priority")),
        product_id=o.get("product_id"),
        applicable_product_tags=_strs(o.get("applicable_product_tags")),
        override_specifiers=_specifiers(o.get("override_specifiers")),
        is_commit_specific=bool(o.get("is_commit_specific", False)),
        target=OverrideTarget(o.get("target", "LIST_RATE")),
        commit_ids=override_commit_ids(
            _strs(o.get("commit_ids")), (s.get("commit_ids", ()) for s in o.get("override_specifiers", ()))
        ),
    )


def schedule_from_wire(s: Json | None) -> Schedule | None:
    if s is None:
        return None
    rec = s.get("recurring_schedule")
    return Schedule(
        schedule_items=tuple(
            ScheduleItem(
                ts(i["timestamp"]),
                _dec_opt(i.get("amount")),
                _dec_opt(i.get("unit_price")),
                _dec_opt(i.get("quantity")),
                i.get("id"),
            )
            for i in s.get("schedule_items", ())
        ),
        recurring_schedule=RecurringSchedule(
            ts(rec["starting_at"]),
            ts(rec["ending_before"]),
            Frequency(rec["frequency"]),
            AmountDistribution(rec.get("amount_distribution", "EACH")),
            _dec_opt(rec.get("amount")),
            _dec_opt(rec.get("unit_price")),
            _dec_opt(rec.get("quantity")),
        )
        if rec
        else None,
        credit_type_id=s.get("credit_type_id"),
        do_not_invoice=bool(s.get("do_not_invoice", False)),
    )


def commit_from_wire(c: Json, kind: str | None = None) -> Commit:
    access = c["access_schedule"]
    cid = c["id"]
    return Commit(
        id=cid,
        type=CommitType(kind or c["type"]),
        access_schedule=tuple(
            AccessSegment(
                id=item.get("id", segment_id(cid, n)),
                amount=_dec(item["amount"]),
                starting_at=ts(item["starting_at"]),
                ending_before=ts(item["ending_before"]),
                consumed=_dec(item.get("consumed", "0")),
            )
            for n, item in enumerate(access["schedule_items"])
        ),
        product_id=c.get("product_id"),
        name=c.get("name"),
        credit_type_id=access.get("credit_type_id"),
        access_type=AccessType(access.get("access_type", "SPEND")),
        invoice_schedule=schedule_from_wire(c.get("invoice_schedule")),
        applicable_product_ids=_strs(c.get("applicable_product_ids")),
        applicable_product_tags=_strs(c.get("applicable_product_tags")),
        specifiers=_specifiers(c.get("specifiers")),
        priority=_dec_opt(c.get("priority")),
        rate_type=BalanceRateType(c.get("rate_type", "LIST_RATE")),
        rollover_fraction=_dec_opt(c.get("rollover_fraction")),
        cost_basis=_dec_opt(c.get("cost_basis")),
        is_rollover=bool(c.get("rolled_over_from")) or bool(c.get("is_rollover", False)),
        applicable_contract_ids=_strs(c["applicable_contract_ids"])
        if "applicable_contract_ids" in c
        else None,
        payment_gate_released=bool(c.get("payment_gate_released", True)),
        trueup_enabled=not c.get("disable_trueup", False),
    )


def subscription_from_wire(s: Json, contract_start: datetime) -> Subscription:
    rate = s["subscription_rate"]
    cycle = s.get("billing_cycle_config") or {}
    return Subscription(
        id=s["id"],
        product_id=rate["product_id"],
        billing_frequency=Frequency(rate["billing_frequency"]),
        starting_at=ts(s["starting_at"]) if s.get("starting_at") else contract_start,
        initial_quantity=_dec(s.get("initial_quantity", "1")),
        ending_before=_ts_opt(s.get("ending_before")),
        collection_schedule=CollectionSchedule(s.get("collection_schedule", "ARREARS")),
        quantity_updates=quantity_updates(s.get("quantity_updates")),
        billing_anchor_date=_ts_opt(cycle.get("anchor_date")),
        name=s.get("name"),
        on_scheduled_invoice=on_scheduled_invoice(cycle.get("invoice_placement")),
        **subscription_proration(s.get("proration")),
    )


def contract_from_wire(
    contract: Json, rate_card: Json, products: Sequence[Json], credit_types: Sequence[Json] = ()
) -> Contract:
    start = ts(contract["starting_at"])
    uss = contract.get("usage_statement_schedule") or {}

    def _sched(kind: type[ScheduledCharge] | type[Discount], raw: Json) -> Any:
        sched = schedule_from_wire(raw["schedule"])
        return kind(id=raw["id"], product_id=raw["product_id"], schedule=sched, name=raw.get("name"))  # type: ignore[arg-type]

    return Contract(
        id=contract.get("id", "contract"),
        customer_id=contract.get("customer_id", "customer"),
        starting_at=start,
        ending_before=_ts_opt(contract.get("ending_before")),
        rate_card=rate_card_from_wire(rate_card, credit_types),
        products={p["id"]: product_from_wire(p) for p in products},
        usage_statement_schedule=UsageStatementSchedule(
            Frequency(uss.get("frequency", "MONTHLY")),
            AnchorDay(uss.get("day", "FIRST_OF_MONTH")),
            _ts_opt(uss.get("billing_anchor_date")),
        ),
        overrides=tuple(override_from_wire(o, i) for i, o in enumerate(contract.get("overrides", ()))),
        commits=tuple(commit_from_wire(c) for c in contract.get("commits", ())),
        credits=tuple(commit_from_wire(c, "CREDIT") for c in contract.get("credits", ())),
        subscriptions=tuple(subscription_from_wire(s, start) for s in contract.get("subscriptions", ())),
        scheduled_charges=tuple(_sched(ScheduledCharge, s) for s in contract.get("scheduled_charges", ())),
        discounts=tuple(_sched(Discount, d) for d in contract.get("discounts", ())),
        multiplier_override_prioritization=Prioritization(
            contract.get("multiplier_override_prioritization", "LOWEST_MULTIPLIER")
        ),
        scheduled_charges_on_usage_invoices=charges_on_usage_invoices(
            contract.get("scheduled_charges_on_usage_invoices")
        ),
        net_payment_terms_days=contract.get("net_payment_terms_days"),
    )


def usage_from_wire(usage: Sequence[Json]) -> tuple[UsageRecord, ...]:
    return tuple(
        UsageRecord(
            u["product_id"], ts(u["timestamp"]), _dec(u["quantity"]), group_values(u.get("group_values"))
        )
        for u in usage
    )


__all__ = ["contract_from_wire", "fiat", "usage_from_wire"]
