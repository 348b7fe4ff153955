"""The rating engine's public entry points: a contract, usage and a period in; an invoice out.

Fixed order (STYLE rule 3): overrides -> pricing -> commits/credits draw-down -> minimums/true-ups
-> discounts -> rounding. Everything before the rounding step is exact; the rounding step rounds each
line once, to its credit type's precision, with the named mode in ``RatingOptions``, and the invoice
totals are sums of rounded lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def _rate(
    contract: Contract,
    lookups: tuple[_Context, RateIndex, list[Slot]],
    usage: Iterable[UsageRecord],
    period: Period,
    options: RatingOptions,
    custom_pricers: Mapping[str, CustomPricer],
) -> Invoice:
    ctx, index, slot_template = lookups
    warnings: list[str] = []
    start = max(period.starting_at, utc(contract.starting_at))
    end = period.ending_before
    if contract.ending_before is not None:
        end = min(end, utc(contract.ending_before))
    if end <= start:
        raise RatingInputError("the period does not overlap the contract")
    window = Period(start, end)
    fiat_id = ctx.fiat.id

    # 1-2. overrides -> pricing
    charges = usage_charges(contract, index, window, usage, ctx.order, custom_pricers, warnings)
    for sub in contract.subscriptions:
        charges += subscription_charges(contract, index, window, ctx.order(sub.product_id), sub, warnings)
    for comp in ctx.composites:
        charges += composite_charges(contract, index, window, comp, ctx.order(comp.id), charges, warnings)
    charges += _scheduled_on_usage_invoice(contract, ctx, period)
    charges.sort(key=lambda c: c.sort_rank)

    # 3. commits and credits, rounding of charges and applied lines
    lines, ledger, balances, rounded_due, slots = _settle(
        contract, ctx, slot_template, charges, window, window.ending_before, options.line_rounding, warnings
    )

    # 4. minimums / true-ups
    trueups = true_ups(contract.commits, slots, period)

    mode = options.line_rounding
    for tu in trueups:
        total = round_to(tu.amount, ctx.fiat.decimal_places, mode)
        lines.append(
            InvoiceLine(
                key=f"trueup:{tu.commit.id}",
                type=LineType.POSTPAID_TRUEUP,
                name=tu.commit.name or "Postpaid commit true-up",
                credit_type_id=fiat_id,
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
        ledger.append(
            LedgerEntry(LedgerEntryKind.TRUEUP, CommitType.POSTPAID, -total, tu.timestamp, tu.commit.id)
        )
        rounded_due[fiat_id] = rounded_due.get(fiat_id, ZERO) + total

    # 5. discounts (capped at what is due)
    for dd in due_discounts(contract.discounts, period, ctx.fiat):
        due = rounded_due.get(fiat_id, ZERO)
        exact = capped(dd.item.amount, due)
        total = min(round_to(exact, ctx.fiat.decimal_places, mode), due)
        if exact < dd.item.amount:
            warnings.append(f"discount {dd.discount.id} capped at the amount due")
        lines.append(
            InvoiceLine(
                key=f"discount:{dd.discount.id}:{dd.item.id}",
                type=LineType.DISCOUNT,
                name=dd.discount.name or "Discount",
                credit_type_id=fiat_id,
                total=-total,
                exact_total=-exact,
                product_id=dd.discount.product_id,
                product_type=ProductType.FIXED,
                discount_id=dd.discount.id,
                starting_at=dd.item.timestamp,
            )
        )
        rounded_due[fiat_id] = due - total

    counted = [li for li in lines if li.credit_type_id == fiat_id and not li.excluded_from_total]
    subtotal = sum((li.total for li in counted if li.type in _CHARGE_TYPES), ZERO)
    total_due = sum((li.total for li in counted), ZERO)
    return Invoice(
        type=InvoiceType.USAGE,
        contract_id=contract.id,
        customer_id=contract.customer_id,
        credit_type=ctx.fiat,
        start_timestamp=window.starting_at,
        end_timestamp=window.ending_before,
        line_items=tuple(lines),
        subtotal=subtotal,
        total=total_due,
        ledger_entries=tuple(ledger),
        balances=tuple(balances),
        warnings=tuple(warnings),
    )


def _settle(
    contract: Contract,
    ctx: _Context,
    slot_template: list[Slot],
    charges: list[Charge],
    window: Period,
    deducted_at: datetime,
    mode: RoundingMode,
    warnings: list[str],
) -> tuple[list[InvoiceLine], list[LedgerEntry], list[SegmentBalance], dict[str, Decimal], list[Slot]]:
    """Draw balances down over ``charges`` (custom pricing units first, then the conversion, then fiat
    prepaid, then postpaid; SPEC §6.7) and round: the charge lines, the applied lines, the ledger
    deductions (dated ``deducted_at``) and the balances after."""
    fiat_id = ctx.fiat.id
    # 3. commits and credits: custom pricing units first, then conversion, then fiat (SPEC §6.7)
    repricer = Repricer(contract.multiplier_override_prioritization)
    slots = [Slot(s.commit, s.segment, s.credit_type_id, s.available) for s in slot_template]
    prepaid = [s for s in slots if not s.postpaid]
    cpu_charges = [c for c in charges if c.credit_type_id != fiat_id]
    draw_down([s for s in prepaid if s.credit_type_id != fiat_id], cpu_charges, repricer)
    conversions = {c.custom_credit_type_id: c for c in contract.rate_card.credit_type_conversions}
    for cpu_id in sorted({c.credit_type_id for c in cpu_charges}):
        uncovered = ZERO
        for c in cpu_charges:
            if c.credit_type_id == cpu_id:
                for p in c.pieces:
                    uncovered += (1 - p.covered) * p.amount
        conv = conversions.get(cpu_id)
        if conv is None:
            warnings.append(f"no fiat conversion for credit type {cpu_id}: its spend is not invoiced")
            continue
        key = f"cpu_conversion:{cpu_id}"
        charges.append(
            Charge(
                key=key,
                type=LineType.CPU_CONVERSION,
                name=f"{ctx.credit_type(cpu_id).name} conversion",
                credit_type_id=fiat_id,
                starting_at=window.starting_at,
                ending_before=window.ending_before,
                pieces=[Piece(window.starting_at, uncovered, conv.to_fiat(uncovered))],
                unit_price=conv.fiat_per_custom_credit,
                sort_rank=(1_000_000, 0, key),
            )
        )
    fiat_charges = [c for c in charges if c.credit_type_id == fiat_id]
    draw_down([s for s in prepaid if s.credit_type_id in (fiat_id, None)], fiat_charges, repricer)
    draw_down([s for s in slots if s.postpaid], fiat_charges, repricer)

    # rounding: each line once
    lines: list[InvoiceLine] = []
    ledger: list[LedgerEntry] = []
    for c in charges:
        lines.extend(_charge_lines(c, ctx, mode))
    rounded_due: dict[str, Decimal] = {}
    for line in lines:
        rounded_due[line.credit_type_id] = rounded_due.get(line.credit_type_id, ZERO) + line.total
    balances: list[SegmentBalance] = []
    for slot in slots:
        applied, consumed = _applied_line(slot, ctx, mode, rounded_due)
        if applied is not None:
            lines.append(applied)
            ledger.append(
                LedgerEntry(
                    LedgerEntryKind.DEDUCTION,
                    slot.commit.type,
                    -consumed,
                    deducted_at,
                    slot.commit.id,
                    slot.segment.id,
                )
            )
        seg = slot.segment
        balances.append(
            SegmentBalance(
                slot.commit.id,
                seg.id,
                seg.amount,
                seg.consumed,
                consumed,
                seg.amount - seg.consumed - consumed,
            )
        )
    return lines, ledger, balances, rounded_due, slots


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
        ctx, index, slot_template = _prepare(contract)
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
            charged: list[InvoiceLine] = []
            ledger: list[LedgerEntry] = []
            balances: list[SegmentBalance] = []
            if at in sub_charges:
                charges = sorted(sub_charges[at], key=lambda c: c.sort_rank)
                tick = Period(at, at + _TICK)
                charged, ledger, balances, _, _ = _settle(
                    contract, ctx, slot_template, charges, tick, at, mode, warnings
                )
            lines = (*fixed, *charged)
            counted = [li for li in lines if li.credit_type_id == ctx.fiat.id and not li.excluded_from_total]
            subtotal = sum((li.total for li in counted if li.type in _CHARGE_TYPES), ZERO)
            total = sum((li.total for li in counted), ZERO)
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
                    ledger_entries=tuple(ledger),
                    balances=tuple(balances),
                    warnings=tuple(warnings) if at in sub_charges else (),
                )
            )
        return tuple(invoices)
