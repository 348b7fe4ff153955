"""The rating engine's inputs built from the typed terms (issue 13 §1).

The contracts domain parses its stored documents once (`model`); the invoice layer, rollover, seats and
the rate schedule hand the engine values converted here, field by field, rather than Metronome-shaped
dicts. `rating.from_wire` stays the library entry point for such dicts (`invoices.wire.rate_contract`).

One source of truth per rule: a field the typed value leaves unset (None) is not passed, so the engine
dataclass's default applies (which is what `from_wire` defaults to as well), and the rules `from_wire`
applies beyond a default (an override's commit ids, a segment's fallback id, a subscription's proration
and quantity updates, invoice placement) are its functions, shared. The property test
`tests/service/test_to_engine.py` checks `to_engine` against `from_wire` on stored documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tally.contracts.terms import model
from tally.rating import from_wire
from tally.rating import inputs as ri

#: Per access segment, in order: (amount granted, amount already consumed).
Amounts = Sequence[tuple[Decimal, Decimal]]


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that are set: the engine's dataclass defaults apply to the others."""
    return {k: v for k, v in fields.items() if v is not None}


def _tiers(raw: Iterable[model.Tier] | None) -> tuple[ri.Tier, ...]:
    return tuple(ri.Tier(price=t.price, size=t.size) for t in raw or ())


def _specifier(s: model.Specifier | model.OverrideSpecifier) -> ri.Specifier:
    return ri.Specifier(
        product_id=s.product_id,
        product_tags=s.product_tags or (),
        pricing_group_values=ri.group_values(s.pricing_group_values),
        presentation_group_values=ri.group_values(s.presentation_group_values),
        billing_frequency=s.billing_frequency if isinstance(s, model.OverrideSpecifier) else None,
    )


def _specifiers(raw: Iterable[model.Specifier | model.OverrideSpecifier] | None) -> tuple[ri.Specifier, ...]:
    return tuple(_specifier(s) for s in raw or ())


def override(o: model.Override) -> ri.Override:
    ow = o.overwrite_rate
    specs = o.override_specifiers or ()
    return ri.Override(
        id=o.id,
        starting_at=o.starting_at,
        ending_before=o.ending_before,
        type=o.type,
        multiplier=o.multiplier,
        overwrite_rate=ri.OverwriteRate(
            ow.rate_type,
            tiers=_tiers(ow.tiers),
            **_given(price=ow.price, quantity=ow.quantity, is_prorated=ow.is_prorated),
            credit_type_id=ow.credit_type_id,
        )
        if ow is not None
        else None,
        tiers=tuple(ri.OverrideTier(t.multiplier, t.size) for t in o.tiers or ()),
        entitled=o.entitled,
        priority=o.priority,
        product_id=o.product_id,
        applicable_product_tags=o.applicable_product_tags or (),
        override_specifiers=_specifiers(specs),
        commit_ids=from_wire.override_commit_ids((), (s.commit_ids or () for s in specs)),
        **_given(is_commit_specific=o.is_commit_specific, target=o.target),
    )


def overrides(raw: Iterable[model.Override]) -> tuple[ri.Override, ...]:
    """The contract's overrides in stored order (the engine's tie-break index is their position)."""
    return tuple(override(o) for o in raw)


def schedule(s: model.InvoiceSchedule) -> ri.Schedule:
    """A stored schedule: its items are already expanded (`recurring_schedule_source` only records the
    request, which the engine does not read)."""
    return ri.Schedule(
        schedule_items=tuple(
            ri.ScheduleItem(i.timestamp, i.amount, i.unit_price, i.quantity, i.id) for i in s.schedule_items
        ),
        credit_type_id=s.credit_type_id,
        do_not_invoice=bool(s.do_not_invoice),
    )


def commit(
    b: model.Balance, kind: ri.CommitType, amounts: Amounts | None = None, *, customer_level: bool = False
) -> ri.Commit:
    """A commit or credit. `amounts`: each segment's grant (with manual adjustments) and what stored
    entries consumed (default: the stored grant, nothing consumed). A customer-level balance applies to
    the contracts it lists, or to all of them (`applicable_contract_ids` = ())."""
    access = b.access_schedule
    items = access.schedule_items
    got = amounts if amounts is not None else [(s.amount, Decimal(0)) for s in items]
    return ri.Commit(
        id=b.id,
        type=kind,
        access_schedule=tuple(
            ri.AccessSegment(
                id=s.id or from_wire.segment_id(b.id, n),
                amount=amount,
                starting_at=s.starting_at,
                ending_before=s.ending_before,
                consumed=consumed,
            )
            for n, (s, (amount, consumed)) in enumerate(zip(items, got, strict=True))
        ),
        product_id=b.product_id,
        name=b.name,
        credit_type_id=access.credit_type_id,
        invoice_schedule=schedule(b.invoice_schedule) if b.invoice_schedule is not None else None,
        applicable_product_ids=b.applicable_product_ids or (),
        applicable_product_tags=b.applicable_product_tags or (),
        specifiers=_specifiers(b.specifiers),
        priority=b.priority,
        rollover_fraction=b.rollover_fraction,
        cost_basis=b.cost_basis,
        is_rollover=b.rolled_over_from is not None,
        applicable_contract_ids=(b.applicable_contract_ids or ())
        if customer_level
        else b.applicable_contract_ids,
        trueup_enabled=not b.disable_trueup,
        **_given(access_type=access.access_type, rate_type=b.rate_type),
    )


def subscription(s: model.Subscription) -> ri.Subscription:
    cycle = s.billing_cycle_config or model.BillingCycleConfig()
    return ri.Subscription(
        id=s.id,
        product_id=s.subscription_rate.product_id,
        billing_frequency=s.subscription_rate.billing_frequency,
        starting_at=s.starting_at,
        ending_before=s.ending_before,
        collection_schedule=s.collection_schedule,
        quantity_updates=from_wire.quantity_updates(s.quantity_updates),
        billing_anchor_date=cycle.anchor_date,
        name=s.name,
        on_scheduled_invoice=from_wire.on_scheduled_invoice(cycle.invoice_placement),
        **_given(initial_quantity=s.initial_quantity),
        **from_wire.subscription_proration(s.proration),
    )


def _charge(kind: type[ri.ScheduledCharge] | type[ri.Discount], c: model.ScheduledCharge) -> Any:
    return kind(id=c.id, product_id=c.product_id, schedule=schedule(c.schedule), name=c.name)


def usage_statement_schedule(uss: model.UsageStatementSchedule) -> ri.UsageStatementSchedule:
    return ri.UsageStatementSchedule(uss.frequency, uss.day, uss.billing_anchor_date)


def contract(
    terms: model.Terms,
    rate_card: ri.RateCard,
    products: Mapping[str, ri.Product],
    commits: Iterable[ri.Commit] = (),
) -> ri.Contract:
    """The contract as the engine rates it: `commits` holds its commits and credits (`type` CREDIT)."""
    balances = tuple(commits)
    days = terms.net_payment_terms_days
    return ri.Contract(
        id=terms.id,
        customer_id=terms.customer_id,
        starting_at=terms.starting_at,
        ending_before=terms.ending_before,
        rate_card=rate_card,
        products=dict(products),
        usage_statement_schedule=usage_statement_schedule(terms.usage_statement_schedule),
        overrides=overrides(terms.overrides),
        commits=tuple(c for c in balances if c.type is not ri.CommitType.CREDIT),
        credits=tuple(c for c in balances if c.type is ri.CommitType.CREDIT),
        subscriptions=tuple(subscription(s) for s in terms.subscriptions),
        scheduled_charges=tuple(_charge(ri.ScheduledCharge, c) for c in terms.scheduled_charges),
        discounts=tuple(_charge(ri.Discount, d) for d in terms.discounts),
        multiplier_override_prioritization=terms.multiplier_override_prioritization,
        scheduled_charges_on_usage_invoices=from_wire.charges_on_usage_invoices(
            terms.scheduled_charges_on_usage_invoices
        ),
        net_payment_terms_days=int(days) if days is not None else None,
    )
