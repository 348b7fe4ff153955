"""The available prepaid balance a recharge compares with its threshold (SPEC §5.11), pure: computed
from the contract's commits and credits (the rating engine's values), the custom-field values of its
balances and its open usage drafts, which `evaluate` loads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from tally.contracts.terms import model
from tally.credit_types.builtin import USD_CENTS_ID
from tally.money.context import ZERO, add, sub
from tally.rating import inputs as ri
from tally.rating.results import Invoice, LedgerEntryKind

# The prepaid draw-downs of a draft's lines.
_DRAFT_DEDUCTIONS = {(LedgerEntryKind.DEDUCTION, c) for c in (ri.CommitType.PREPAID, ri.CommitType.CREDIT)}
# The balance kinds a custom-field filter's entity names.
_ENTITIES = {
    model.CustomFieldEntity.COMMIT: {ri.CommitType.PREPAID, ri.CommitType.POSTPAID},
    model.CustomFieldEntity.CONTRACT_CREDIT: {ri.CommitType.CREDIT},
    model.CustomFieldEntity.CONTRACT_CREDIT_OR_COMMIT: set(ri.CommitType),
}

Drawn = Mapping[tuple[str, str], Decimal]


def available(
    commits: Iterable[ri.Commit], excluded: set[str], drawn: Drawn, credit_type_id: str, now: datetime
) -> Decimal:
    """The prepaid commits and credits in `credit_type_id` with SPEND access, segments active `now`,
    less what finalized invoices took (`consumed`) and what open drafts would take (`drawn`), each
    segment counted at 0 at least; balances in `excluded` do not count. Postpaid commits are not a
    balance."""
    out = ZERO
    for c in commits:
        if c.type is ri.CommitType.POSTPAID or c.id in excluded:
            continue
        if c.access_type is not ri.AccessType.SPEND or (c.credit_type_id or USD_CENTS_ID) != credit_type_id:
            continue
        for seg in c.access_schedule:
            if seg.starting_at <= now < seg.ending_before:
                left = sub(sub(seg.amount, seg.consumed), drawn.get((c.id, seg.id), ZERO))
                out = add(out, max(left, ZERO))
    return out


def drawn_by(drafts: Iterable[Invoice]) -> dict[tuple[str, str], Decimal]:
    """(balance, segment) -> what the drafts' automated invoice deductions take from it."""
    out: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for inv in drafts:
        for e in inv.ledger_entries:
            if (e.kind, e.commit_type) in _DRAFT_DEDUCTIONS and e.segment_id is not None:
                out[(e.commit_id, e.segment_id)] = sub(out[(e.commit_id, e.segment_id)], e.amount)
    return out


def exclusions(cfg: model.PrepaidBalanceThresholdConfiguration) -> list[model.BalanceExclusion]:
    """The `exclude` entries of the configuration's `threshold_balance_specifiers`."""
    return [ex for spec in cfg.threshold_balance_specifiers or () for ex in spec.exclude]


def excluded(
    excludes: Iterable[model.BalanceExclusion],
    kinds: Mapping[str, ri.CommitType],
    fields: Mapping[str, Mapping[str, str]],
) -> set[str]:
    """The balances (id -> kind) an exclude entry matches: it has custom-field filters and every one
    names an entity of the balance's kind and a key the balance (`fields`: id -> key -> value) holds
    with that value."""
    out = set()
    for bid, kind in kinds.items():
        for ex in excludes:
            filters = ex.custom_field_filters
            if filters and all(
                kind in _ENTITIES[f.entity] and fields.get(bid, {}).get(f.key) == f.value for f in filters
            ):
                out.add(bid)
    return out
