"""Threshold billing configurations on a contract (SPEC §5.10, §5.11): the checks a create or v2 edit
applies to the stored configuration, and the hook that evaluates a contract as soon as it is written.

Billing itself (the commits a crossing grants, their invoices) lives in `tally.invoices.thresholds`,
a layer above; tally.jobs.wiring registers its evaluator here with `on_write`, so the contract
endpoints can ask for the immediate evaluation Metronome promises ("toggling is_enabled to true results
in an immediate evaluation") without importing the invoice layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from tally.contracts.terms import model
from tally.contracts.terms.normalize import Terms
from tally.credit_types.builtin import USD_CENTS_ID
from tally.db import uow
from tally.errors import BadRequest, NotFound
from tally.money.context import add
from tally.money.credit_types import FIAT_BY_ID
from tally.rate_cards import service as rate_cards

log = logging.getLogger("tally.thresholds")

SPEND = "spend_threshold_configuration"
PREPAID = "prepaid_balance_threshold_configuration"
# Request fields that carry a configuration, on create and on v2 edit.
_REQUEST_FIELDS = (
    SPEND,
    PREPAID,
    f"add_{SPEND}",
    f"add_{PREPAID}",
    f"update_{SPEND}",
    f"update_{PREPAID}",
)

# SPEC §5.11 [D]: threshold >= $5 and recharge_to >= threshold + $10. Amounts are in the configuration's
# credit type: USD cents, whole units for other fiat currencies; a custom pricing unit takes the same
# numbers as USD cents (docs/decisions.md, Threshold billing).
_MINIMUMS_MINOR = (Decimal(500), Decimal(1000))
_MINIMUMS_WHOLE = (Decimal(5), Decimal(10))


def minimums(credit_type_id: str) -> tuple[Decimal, Decimal]:
    """(smallest threshold_amount, smallest gap from threshold_amount to recharge_to_amount)."""
    if credit_type_id in FIAT_BY_ID and credit_type_id != USD_CENTS_ID:
        return _MINIMUMS_WHOLE
    return _MINIMUMS_MINOR


def check(
    t: Terms,
    spend: model.SpendThresholdConfiguration | None,
    prepaid: model.PrepaidBalanceThresholdConfiguration | None,
    trackers: Iterable[model.SpendTracker],
    rate_card_id: str | None,
) -> None:
    """Validate the configurations given (a create's, or those an edit added or merged its update_
    fields into), with the contract's spend trackers; raises BadRequest naming the field."""
    if spend is not None:
        _commit(t, spend.commit, SPEND)
        t.positive(spend.threshold_amount, f"{SPEND}.threshold_amount")
    if prepaid is not None:
        aliases = {s.alias for s in trackers}
        _prepaid(t, prepaid, aliases, fiat_of(t.conn, t.tenant_id, rate_card_id))


def fiat_of(conn: Connection, tenant_id: str, rate_card_id: str | None) -> str:
    """The contract's fiat credit type: its rate card's, USD (cents) without one."""
    if rate_card_id is None:
        return USD_CENTS_ID
    try:
        return rate_cards.get(conn, tenant_id, rate_card_id).fiat_credit_type_id or USD_CENTS_ID
    except NotFound:
        return USD_CENTS_ID


def _commit(t: Terms, commit: model.ThresholdCommit, field: str) -> None:
    t.product(commit.product_id, f"{field}.commit.product_id", {"FIXED"})
    t.positive(commit.priority, f"{field}.commit.priority")


def _discount(dc: model.DiscountConfiguration | None, aliases: set[str], field: str) -> None:
    if dc is None:
        return
    pf = dc.payment_fraction
    if pf is None or not (0 <= pf <= 1):
        raise BadRequest(f"{field}.discount_configuration.payment_fraction: must be between 0 and 1")
    if dc.cap is not None:
        Terms.non_negative(dc.cap.amount, f"{field}.discount_configuration.cap.amount")
        if dc.cap.spend_tracker_alias not in aliases:
            raise BadRequest(
                f"{field}.discount_configuration.cap.spend_tracker_alias: "
                f"no spend tracker {dc.cap.spend_tracker_alias!r} on this contract"
            )


def _prepaid(
    t: Terms, cfg: model.PrepaidBalanceThresholdConfiguration, aliases: set[str], fiat_credit_type_id: str
) -> None:
    field = PREPAID
    commit = cfg.commit
    _commit(t, commit, field)
    t.applicability(model.dump(commit), f"{field}.commit")
    rf = commit.rollover_fraction
    if rf is not None and not (0 <= rf <= 1):
        raise BadRequest(f"{field}.commit.rollover_fraction: must be between 0 and 1")
    if commit.duration is not None and int(commit.duration.value) <= 0:
        raise BadRequest(f"{field}.commit.duration.value: must be greater than 0")
    ct_id = cfg.custom_credit_type_id or fiat_credit_type_id
    if cfg.custom_credit_type_id:
        t.credit_type(ct_id, f"{field}.custom_credit_type_id")
    least, gap = minimums(ct_id)
    if cfg.threshold_amount < least:
        raise BadRequest(f"{field}.threshold_amount: must be at least {least} (the $5 minimum)")
    if cfg.recharge_to_amount < add(cfg.threshold_amount, gap):
        raise BadRequest(
            f"{field}.recharge_to_amount: must be at least threshold_amount + {gap} (the $10 minimum gap)"
        )
    _discount(cfg.discount_configuration, aliases, field)


# ------------------------------------------------------------------------------- immediate evaluation

Evaluator = Callable[[Engine, str, str, datetime], None]
_evaluators: list[Evaluator] = []


def on_write(evaluator: Evaluator) -> None:
    """Register the threshold evaluator (tally.jobs.wiring.install, when the application is built)."""
    if evaluator not in _evaluators:
        _evaluators.append(evaluator)


def evaluators() -> tuple[Evaluator, ...]:
    """The registered evaluators (tally.jobs.wiring)."""
    return tuple(_evaluators)


def written(
    conn: Connection, engine: Engine, tenant_id: str, contract_id: str, now: datetime, req: Any
) -> None:
    """Call inside a create / v2 edit's write: if the request carried a threshold configuration, the
    contract is evaluated as soon as that write commits (`uow.after_commit`, in its own transaction: it
    reads the committed contract, and its failure must not undo the write). Never raises; the billing
    worker evaluates every enabled contract on its next pass anyway."""
    if not any(getattr(req, k, None) is not None for k in _REQUEST_FIELDS):
        return
    for i, evaluate in enumerate(_evaluators):
        uow.after_commit(
            conn,
            f"thresholds:{contract_id}:{i}",
            lambda evaluate=evaluate: evaluate(engine, tenant_id, contract_id, now),  # type: ignore[misc]
        )
