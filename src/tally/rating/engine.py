"""The rating engine's public entry points: a contract, usage and a period in; an invoice out.

The rating order (STYLE rule 3; SPEC §6.4, §6.7) is the tuple ``STEPS``, and nowhere else: each step is a
named function of one ``RatingRun``, the call's working state. Overrides and pricing, then balances draw
down (custom pricing units, their conversion to fiat, fiat prepaid, postpaid), then rounding, then true-ups
and discounts. Everything before ``round_lines`` is exact; it rounds each line once, to its credit type's
precision, with the named mode in ``RatingOptions``. True-up and discount lines are rounded as they are
made, and the invoice totals are sums of rounded lines. SCHEDULED invoices run the shared part, ``SETTLE``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tally.money import CreditType, money_context
from tally.money.context import ZERO
from tally.money.credit_types import FIAT_BY_ID
from tally.money.rounding import RoundingMode, round_to
from tally.rating.adjustments.discounts import capped, due_discounts
from tally.rating.adjustments.drawdown import Repricer, Slot, draw_down, ordered_slots
from tally.rating.adjustments.trueup import true_ups
from tally.rating.charges import Charge, Piece
from tally.rating.inputs import (
    AccessType,
    CommitType,
    Contract,
    ProductType,
    RatingInputError,
    RatingOptions,
    UsageRecord,
)
from tally.rating.periods import Period, period_containing, utc
from tally.rating.prices.custom import CustomPricer
from tally.rating.prices.percentage import composite_charges
from tally.rating.prices.subscription import subscription_charges
from tally.rating.rates import RateIndex
from tally.rating.results import (
    Invoice,
    InvoiceLine,
    InvoiceType,
    LedgerEntry,
    LedgerEntryKind,
    LineType,
    SegmentBalance,
    TierLine,
)
from tally.rating.schedules import expand
from tally.rating.usage import usage_charges

_CHARGE_TYPES = {
    LineType.USAGE,
    LineType.SUBSCRIPTION,
    LineType.SCHEDULED,
    LineType.COMMIT_PURCHASE,
    LineType.CPU_CONVERSION,
    LineType.POSTPAID_TRUEUP,
}


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Context:
    """Per-call lookups: product order, credit types."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        card = contract.rate_card
        self.fiat = card.fiat_credit_type
        self.credit_types: dict[str, CreditType] = dict(FIAT_BY_ID)
        self.credit_types.update({c.id: c for c in card.custom_credit_types})
        listed = list(card.product_order)
        rest = sorted(pid for pid in contract.products if pid not in set(listed))
        self.rank = {pid: i for i, pid in enumerate(listed + rest)}
        self.composites = sorted(
            (p for p in contract.products.values() if p.type is ProductType.COMPOSITE),
            key=lambda p: (p.include_composite_spend, self.order(p.id)),
        )
        self.fixed_items: list[_Fixed] | None = None

    def order(self, product_id: str) -> int:
        return self.rank.get(product_id, len(self.rank))

    def credit_type(self, credit_type_id: str) -> CreditType:
        found = self.credit_types.get(credit_type_id)
        if found is None:
            raise RatingInputError(f"unknown credit type {credit_type_id}")
        return found


class PreparedContracts:
    """Per-contract lookups (rate index, credit types, balance slots) that a caller may reuse across calls
    rating the same contract object, e.g. the many windows of one breakdown.

    The engine holds no state of its own: a caller that wants reuse creates one of these and passes it in,
    and owns it (one per request or job, never shared between threads). An entry keeps a reference to its
    contract, so the id it is keyed by cannot be reused while cached; inputs are frozen and must not be
    mutated after they are passed in.
    """

    def __init__(self, max_size: int = 128) -> None:
        self._max_size = max_size
        self._entries: dict[int, tuple[Contract, _Context, RateIndex, list[Slot]]] = {}

    def get(self, contract: Contract) -> tuple[_Context, RateIndex, list[Slot]]:
        found = self._entries.get(id(contract))
        if found is not None and found[0] is contract:
            return found[1], found[2], found[3]
        prepared = _prepare(contract)
        if len(self._entries) >= self._max_size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[id(contract)] = (contract, *prepared)
        return prepared


_TICK = timedelta(microseconds=1)


def _prepare(contract: Contract) -> tuple[_Context, RateIndex, list[Slot]]:
    return (
        _Context(contract),
        RateIndex(contract),
        ordered_slots(contract, (*contract.commits, *contract.credits)),
    )


def rate_usage_invoice(
    contract: Contract,
    usage: Iterable[UsageRecord],
    period: Period,
    *,
    options: RatingOptions | None = None,
    custom_pricers: Mapping[str, CustomPricer] | None = None,
    prepared: PreparedContracts | None = None,
) -> Invoice:
    """Rate one usage-statement period of a contract into a USAGE invoice (SPEC §6.4).

    ``period`` is a statement period (see ``periods.billing_periods``); it is clipped to the contract.
    Commit and credit segments carry what other invoices already consumed (``AccessSegment.consumed``);
    the invoice reports this invoice's draw-downs as ledger entries and the balances after it.
    """
    with money_context():
        lookups = prepared.get(contract) if prepared is not None else _prepare(contract)
        return _rate(contract, lookups, usage, period, options or RatingOptions(), custom_pricers or {})


@dataclass(slots=True, kw_only=True)
class RatingRun:
    """One rating call's working state, handed from step to step (``STEPS``).

    Each step reads what earlier steps left and adds its own part: ``charges``, then what the balance
    ``slots`` pay, then ``lines``, ``ledger`` and ``balances``. Mutable on purpose: the draw-down records
    payments on the ``Slot`` and charge ``Piece`` objects themselves, so a frozen run would still carry
    mutable parts. Every call builds its own run (``_start``, over fresh copies of the prepared slots), no
    run is shared or kept, and only the frozen ``Invoice`` leaves the engine.
    """

    contract: Contract
    ctx: _Context
    index: RateIndex
    window: Period  # what the charges cover: the statement period clipped to the contract
    period: Period  # the statement period: true-ups, discounts and consolidated scheduled items
    deducted_at: datetime  # the date of the ledger deductions
    mode: RoundingMode
    slots: list[Slot]
    warnings: list[str]
    usage: Iterable[UsageRecord] = ()
    custom_pricers: Mapping[str, CustomPricer] = field(default_factory=dict)
    charges: list[Charge] = field(default_factory=list)
    repricer: Repricer = field(init=False)
    lines: list[InvoiceLine] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    balances: list[SegmentBalance] = field(default_factory=list)
    rounded_due: dict[str, Decimal] = field(default_factory=dict)  # rounded amount still due, by credit type

    def __post_init__(self) -> None:
        self.repricer = Repricer(self.contract.multiplier_override_prioritization)

    @property
    def fiat_id(self) -> str:
        return self.ctx.fiat.id


def _start(
    contract: Contract,
    lookups: tuple[_Context, RateIndex, list[Slot]],
    window: Period,
    period: Period,
    deducted_at: datetime,
    mode: RoundingMode,
    warnings: list[str],
    *,
    charges: list[Charge] | None = None,
    usage: Iterable[UsageRecord] = (),
    custom_pricers: Mapping[str, CustomPricer] | None = None,
) -> RatingRun:
    """A run over fresh copies of the prepared balance slots (the prepared ones are never drawn down)."""
    ctx, index, slot_template = lookups
    return RatingRun(
        contract=contract,
        ctx=ctx,
        index=index,
        window=window,
        period=period,
        deducted_at=deducted_at,
        mode=mode,
        slots=[Slot(s.commit, s.segment, s.credit_type_id, s.available) for s in slot_template],
        warnings=warnings,
        usage=usage,
        custom_pricers=custom_pricers or {},
        charges=charges or [],
    )


def price(run: RatingRun) -> None:
    """Overrides and pricing: usage, then subscriptions, then composites (over what is priced before them),
    then scheduled items consolidated onto this usage invoice; in invoice-line order."""
    contract, ctx, index, window = run.contract, run.ctx, run.index, run.window
    charges = usage_charges(contract, index, window, run.usage, ctx.order, run.custom_pricers, run.warnings)
    for sub in contract.subscriptions:
        charges += subscription_charges(contract, index, window, ctx.order(sub.product_id), sub, run.warnings)
    for comp in ctx.composites:
        charges += composite_charges(contract, index, window, comp, ctx.order(comp.id), charges, run.warnings)
    charges += _scheduled_on_usage_invoice(contract, ctx, run.period)
    charges.sort(key=lambda c: c.sort_rank)
    run.charges = charges


def _custom_unit_charges(run: RatingRun) -> list[Charge]:
    return [c for c in run.charges if c.credit_type_id != run.fiat_id]


def _fiat_charges(run: RatingRun) -> list[Charge]:
    return [c for c in run.charges if c.credit_type_id == run.fiat_id]


def draw_down_custom_units(run: RatingRun) -> None:
    """Prepaid balances pay the custom-pricing-unit charges first (SPEC §6.7)."""
    slots = [s for s in run.slots if not s.postpaid and s.credit_type_id != run.fiat_id]
    draw_down(slots, _custom_unit_charges(run), run.repricer)


def convert_custom_units(run: RatingRun) -> None:
    """What the balances left of each custom pricing unit becomes one fiat ``cpu_conversion`` charge."""
    custom = _custom_unit_charges(run)
    conversions = {c.custom_credit_type_id: c for c in run.contract.rate_card.credit_type_conversions}
    start, end = run.window.starting_at, run.window.ending_before
    for cpu_id in sorted({c.credit_type_id for c in custom}):
        uncovered = ZERO
        for c in custom:
            if c.credit_type_id == cpu_id:
                for p in c.pieces:
                    uncovered += (1 - p.covered) * p.amount
        conv = conversions.get(cpu_id)
        if conv is None:
            run.warnings.append(f"no fiat conversion for credit type {cpu_id}: its spend is not invoiced")
            continue
        key = f"cpu_conversion:{cpu_id}"
        run.charges.append(
            Charge(
                key=key,
                type=LineType.CPU_CONVERSION,
                name=f"{run.ctx.credit_type(cpu_id).name} conversion",
                credit_type_id=run.fiat_id,
                starting_at=start,
                ending_before=end,
                pieces=[Piece(start, uncovered, conv.to_fiat(uncovered))],
                unit_price=conv.fiat_per_custom_credit,
                sort_rank=(1_000_000, 0, key),
            )
        )


def draw_down_fiat(run: RatingRun) -> None:
    """Prepaid fiat (and quantity) balances pay the fiat charges, conversions included."""
    slots = [s for s in run.slots if not s.postpaid and s.credit_type_id in (run.fiat_id, None)]
    draw_down(slots, _fiat_charges(run), run.repricer)


def draw_down_postpaid(run: RatingRun) -> None:
    """Postpaid commits pay what is left of the fiat charges."""
    draw_down([s for s in run.slots if s.postpaid], _fiat_charges(run), run.repricer)


def round_lines(run: RatingRun) -> None:
    """Round each charge line once, then each balance's applied line (clamped to the rounded charges left);
    report the ledger deductions (dated ``deducted_at``) and the balances after."""
    for c in run.charges:
        run.lines.extend(_charge_lines(c, run.ctx, run.mode))
    due = run.rounded_due
    for line in run.lines:
        due[line.credit_type_id] = due.get(line.credit_type_id, ZERO) + line.total
    for slot in run.slots:
        applied, consumed = _applied_line(slot, run.ctx, run.mode, due)
        if applied is not None:
            run.lines.append(applied)
            run.ledger.append(
                LedgerEntry(
                    LedgerEntryKind.DEDUCTION,
                    slot.commit.type,
                    -consumed,
                    run.deducted_at,
                    slot.commit.id,
                    slot.segment.id,
                )
            )
        seg = slot.segment
        run.balances.append(
            SegmentBalance(
                slot.commit.id,
                seg.id,
                seg.amount,
                seg.consumed,
                consumed,
                seg.amount - seg.consumed - consumed,
            )
        )


def true_up(run: RatingRun) -> None:
    """Minimums: a postpaid commit whose invoice date falls in the period bills its shortfall."""
    fiat = run.ctx.fiat
    for tu in true_ups(run.contract.commits, run.slots, run.period):
        total = round_to(tu.amount, fiat.decimal_places, run.mode)
        run.lines.append(
            InvoiceLine(
                key=f"trueup:{tu.commit.id}",
                type=LineType.POSTPAID_TRUEUP,
                name=tu.commit.name or "Postpaid commit true-up",
                credit_type_id=fiat.id,
                total=total,
                exact_total=tu.amount,
                product_id=tu.commit.product_id,
                product_type=ProductType.FIXED,
                commit_id=tu.commit.id,
                commit_type=CommitType.POSTPAID,
                quantity=Decimal(1),
                unit_price=total,
            )
        )
        run.ledger.append(
            LedgerEntry(LedgerEntryKind.TRUEUP, CommitType.POSTPAID, -total, tu.timestamp, tu.commit.id)
        )
        run.rounded_due[fiat.id] = run.rounded_due.get(fiat.id, ZERO) + total


def apply_discounts(run: RatingRun) -> None:
    """Discounts due in the period, each capped at the (rounded) amount still due."""
    fiat = run.ctx.fiat
    for dd in due_discounts(run.contract.discounts, run.period, fiat):
        due = run.rounded_due.get(fiat.id, ZERO)
        exact = capped(dd.item.amount, due)
        total = min(round_to(exact, fiat.decimal_places, run.mode), due)
        if exact < dd.item.amount:
            run.warnings.append(f"discount {dd.discount.id} capped at the amount due")
        run.lines.append(
            InvoiceLine(
                key=f"discount:{dd.discount.id}:{dd.item.id}",
                type=LineType.DISCOUNT,
                name=dd.discount.name or "Discount",
                credit_type_id=fiat.id,
                total=-total,
                exact_total=-exact,
                product_id=dd.discount.product_id,
                product_type=ProductType.FIXED,
                discount_id=dd.discount.id,
                starting_at=dd.item.timestamp,
            )
        )
        run.rounded_due[fiat.id] = due - total


Step = Callable[[RatingRun], None]

SETTLE: tuple[Step, ...] = (
    draw_down_custom_units,
    convert_custom_units,
    draw_down_fiat,
    draw_down_postpaid,
    round_lines,
)
"""Balances pay charges that are already priced, then every line is rounded: the part of the order that a
SCHEDULED invoice's subscription charges share with a usage invoice."""

STEPS: tuple[Step, ...] = (price, *SETTLE, true_up, apply_discounts)
"""The rating order of a usage invoice (SPEC §6.4, §6.7); ``_rate`` runs these and sums the lines."""


def _run(run: RatingRun, steps: tuple[Step, ...]) -> None:
    for step in steps:
        step(run)


def _totals(lines: Iterable[InvoiceLine], fiat_id: str) -> tuple[Decimal, Decimal]:
    """(subtotal, total) of an invoice: sums of its rounded fiat lines that count toward the total."""
    counted = [li for li in lines if li.credit_type_id == fiat_id and not li.excluded_from_total]
    subtotal = sum((li.total for li in counted if li.type in _CHARGE_TYPES), ZERO)
    return subtotal, sum((li.total for li in counted), ZERO)


def _rate(
    contract: Contract,
    lookups: tuple[_Context, RateIndex, list[Slot]],
    usage: Iterable[UsageRecord],
    period: Period,
    options: RatingOptions,
    custom_pricers: Mapping[str, CustomPricer],
) -> Invoice:
    start = max(period.starting_at, utc(contract.starting_at))
    end = period.ending_before
    if contract.ending_before is not None:
        end = min(end, utc(contract.ending_before))
    if end <= start:
        raise RatingInputError("the period does not overlap the contract")
    window = Period(start, end)
    mode = options.line_rounding
    run = _start(contract, lookups, window, period, end, mode, [], usage=usage, custom_pricers=custom_pricers)
    _run(run, STEPS)
    fiat = run.ctx.fiat
    subtotal, total = _totals(run.lines, fiat.id)
    return Invoice(
        type=InvoiceType.USAGE,
        contract_id=contract.id,
        customer_id=contract.customer_id,
        credit_type=fiat,
        start_timestamp=window.starting_at,
        end_timestamp=window.ending_before,
        line_items=tuple(run.lines),
        subtotal=subtotal,
        total=total,
        ledger_entries=tuple(run.ledger),
        balances=tuple(run.balances),
        warnings=tuple(run.warnings),
    )


def _charge_lines(c: Charge, ctx: _Context, mode: RoundingMode) -> list[InvoiceLine]:
    places = ctx.credit_type(c.credit_type_id).decimal_places
    quantity = c.quantity
    exact = c.amount
    rep_q = rep_amount = rep_list = ZERO
    for p in c.pieces:
        rep_q += p.repriced_quantity
        rep_amount += p.repriced_amount
        rep_list += p.repriced_list_amount
    list_exact = exact - rep_list
    total = round_to(list_exact, places, mode)
    tiers: tuple[TierLine, ...] = ()
    if c.tiers and rep_q == 0:
        tiers = tuple(
            TierLine(
                start,
                acc.quantity,
                price,
                round_to(acc.subtotal, places, mode) if len(c.tiers) > 1 else total,
            )
            for (start, price), acc in sorted(c.tiers.items())
        )
    product = c.product
    common: dict[str, Any] = {
        "name": c.name,
        "credit_type_id": c.credit_type_id,
        "product_id": product.id if product else None,
        "product_type": product.type if product else None,
        "starting_at": c.starting_at,
        "ending_before": c.ending_before,
        "pricing_group_values": c.pricing_group_values,
        "presentation_group_values": c.presentation_group_values,
        "subscription_id": c.subscription_id,
        "scheduled_charge_id": c.scheduled_charge_id,
        "is_prorated": c.is_prorated,
    }
    out = [
        InvoiceLine(
            key=c.key,
            type=c.type,
            total=total,
            exact_total=list_exact,
            quantity=quantity - rep_q,
            unit_price=c.unit_price,
            tiers=tiers,
            **common,
        )
    ]
    if rep_q != 0 or rep_amount != 0:
        unit = rep_amount / rep_q if rep_q else None
        rep_total = round_to(rep_amount, places, mode)
        out.append(
            InvoiceLine(
                key=f"{c.key}:commit_rate",
                type=c.type,
                total=rep_total,
                exact_total=rep_amount,
                quantity=rep_q,
                unit_price=unit,
                **common,
            )
        )
    return out


def _applied_line(
    slot: Slot, ctx: _Context, mode: RoundingMode, rounded_due: dict[str, Decimal]
) -> tuple[InvoiceLine | None, Decimal]:
    """Round a segment's draw-down: never above its balance, never above the rounded charges left."""
    if slot.used_money == 0 and slot.used == 0:
        return None, ZERO
    commit = slot.commit
    money_ct = slot.credit_type_id or ctx.fiat.id
    places = ctx.credit_type(money_ct).decimal_places
    money = round_to(slot.used_money, places, mode)
    quantity_based = commit.access_type is AccessType.QUANTITY
    if not quantity_based:
        money = min(money, round_to(slot.available, places, RoundingMode.ROUND_DOWN))
    if not slot.postpaid:
        money = max(ZERO, min(money, rounded_due.get(money_ct, ZERO)))
        rounded_due[money_ct] = rounded_due.get(money_ct, ZERO) - money
    consumed = slot.used if quantity_based else money
    line = InvoiceLine(
        key=f"applied:{commit.id}:{slot.segment.id}",
        type=LineType.APPLIED,
        name=commit.name or commit.type.value.title(),
        credit_type_id=money_ct,
        total=-money,
        exact_total=-slot.used_money,
        product_id=commit.product_id,
        product_type=ProductType.FIXED,
        commit_id=commit.id,
        commit_segment_id=slot.segment.id,
        commit_type=commit.type,
        quantity_consumed=slot.used if quantity_based else None,
        excluded_from_total=slot.postpaid,
        starting_at=utc(slot.segment.starting_at),
        ending_before=utc(slot.segment.ending_before),
    )
    return line, consumed


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A dated fixed-price item: a scheduled charge or a prepaid commit purchase."""

    key: str
    type: LineType
    name: str
    credit_type: CreditType
    amount: Decimal
    quantity: Decimal
    unit_price: Decimal
    product_id: str | None
    at: datetime
    scheduled_charge_id: str | None = None
    commit_id: str | None = None


def _scheduled_items(contract: Contract, ctx: _Context) -> list[_Fixed]:
    if ctx.fixed_items is None:
        ctx.fixed_items = _expand_fixed(contract, ctx)
    return ctx.fixed_items


def _expand_fixed(contract: Contract, ctx: _Context) -> list[_Fixed]:
    out: list[_Fixed] = []
    for sc in contract.scheduled_charges:
        ct = ctx.credit_type(sc.schedule.credit_type_id or ctx.fiat.id)
        for item in expand(sc.schedule, sc.id, ct):
            key = f"scheduled:{sc.id}:{item.id}@{_stamp(item.timestamp)}"
            out.append(
                _Fixed(
                    key,
                    LineType.SCHEDULED,
                    sc.name or sc.product_id,
                    ct,
                    item.amount,
                    item.quantity,
                    item.unit_price,
                    sc.product_id,
                    item.timestamp,
                    sc.id,
                )
            )
    for commit in (*contract.commits, *contract.credits):
        sched = commit.invoice_schedule
        if commit.type is not CommitType.PREPAID or sched is None or sched.do_not_invoice:
            continue
        ct = ctx.credit_type(sched.credit_type_id or ctx.fiat.id)
        for item in expand(sched, commit.id, ct):
            key = f"commit_purchase:{commit.id}:{item.id}@{_stamp(item.timestamp)}"
            out.append(
                _Fixed(
                    key,
                    LineType.COMMIT_PURCHASE,
                    commit.name or "Commit",
                    ct,
                    item.amount,
                    item.quantity,
                    item.unit_price,
                    commit.product_id,
                    item.timestamp,
                    commit_id=commit.id,
                )
            )
    return out


def _scheduled_on_usage_invoice(contract: Contract, ctx: _Context, period: Period) -> list[Charge]:
    if not contract.scheduled_charges_on_usage_invoices:
        return []
    out: list[Charge] = []
    for f in _scheduled_items(contract, ctx):
        if f.at != period.ending_before:
            continue
        product = contract.products.get(f.product_id) if f.product_id else None
        out.append(
            Charge(
                key=f.key,
                type=f.type,
                name=f.name,
                credit_type_id=f.credit_type.id,
                starting_at=f.at,
                ending_before=f.at,
                product=product,
                pieces=[Piece(f.at, f.quantity, f.amount)],
                unit_price=f.unit_price,
                scheduled_charge_id=f.scheduled_charge_id,
                drawable=False,
                sort_rank=(2_000_000, 0, f.key),
            )
        )
    return out


def _on_usage_invoice(contract: Contract, at: datetime) -> bool:
    """Is ``at`` the end of one of the contract's usage periods (consolidation target)?"""
    if not contract.scheduled_charges_on_usage_invoices or at <= utc(contract.starting_at):
        return False
    end = utc(contract.ending_before) if contract.ending_before is not None else None
    if end is not None and at >= end:
        return at == end
    p = period_containing(contract.usage_statement_schedule, contract.starting_at, contract.ending_before, at)
    return p.starting_at == at


def rate_scheduled_invoices(
    contract: Contract,
    window: Period,
    *,
    options: RatingOptions | None = None,
) -> tuple[Invoice, ...]:
    """SCHEDULED invoices (scheduled charges, prepaid commit purchases, subscription charges placed on
    SCHEDULED invoices) dated inside ``window``, one invoice per timestamp.

    Items consolidated onto usage invoices (``scheduled_charges_on_usage_invoices``) are left to
    ``rate_usage_invoice`` when their timestamp is a usage period's end. Subscription charges may be paid
    by commits and credits (balances active at the charge's service start), exactly as on a usage
    invoice; scheduled charges and commit purchases are not.
    """
    with money_context():
        lookups = _prepare(contract)
        ctx, index, _ = lookups
        mode = (options or RatingOptions()).line_rounding
        by_time: dict[datetime, list[InvoiceLine]] = {}
        for f in _scheduled_items(contract, ctx):
            if not window.contains(f.at) or _on_usage_invoice(contract, f.at):
                continue
            total = round_to(f.amount, f.credit_type.decimal_places, mode)
            by_time.setdefault(f.at, []).append(
                InvoiceLine(
                    key=f.key,
                    type=f.type,
                    name=f.name,
                    credit_type_id=f.credit_type.id,
                    total=total,
                    exact_total=f.amount,
                    quantity=f.quantity,
                    unit_price=f.unit_price,
                    product_id=f.product_id,
                    product_type=ProductType.FIXED,
                    starting_at=f.at,
                    ending_before=f.at,
                    scheduled_charge_id=f.scheduled_charge_id,
                    commit_id=f.commit_id,
                )
            )
        warnings: list[str] = []
        sub_charges: dict[datetime, list[Charge]] = {}
        for sub in contract.subscriptions:
            rank = ctx.order(sub.product_id)
            for c in subscription_charges(contract, index, window, rank, sub, warnings, scheduled=True):
                assert c.placed_at is not None
                sub_charges.setdefault(c.placed_at, []).append(c)
        invoices = []
        for at in sorted(by_time.keys() | sub_charges.keys()):
            fixed = sorted(by_time.get(at, []), key=lambda li: li.key)
            settled: RatingRun | None = None
            if at in sub_charges:
                tick = Period(at, at + _TICK)
                charges = sorted(sub_charges[at], key=lambda c: c.sort_rank)
                settled = _start(contract, lookups, tick, tick, at, mode, warnings, charges=charges)
                _run(settled, SETTLE)
            lines = (*fixed, *(settled.lines if settled else ()))
            subtotal, total = _totals(lines, ctx.fiat.id)
            invoices.append(
                Invoice(
                    InvoiceType.SCHEDULED,
                    contract.id,
                    contract.customer_id,
                    ctx.fiat,
                    at,
                    at,
                    lines,
                    subtotal,
                    total,
                    ledger_entries=tuple(settled.ledger) if settled else (),
                    balances=tuple(settled.balances) if settled else (),
                    warnings=tuple(warnings) if settled else (),
                )
            )
        return tuple(invoices)
