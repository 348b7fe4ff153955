"""The fiat credit types every tenant has from the start (SPEC §0.1): USD as "USD (cents)" with
Metronome's own id, every other supported fiat currency in whole units.

Their definitions (ids, names, precision) live in tally.money.credit_types, the one place the rating
engine also reads; migration 0001 seeds the same rows, and tests/integration/test_storage.py checks that
the two agree.
"""

from __future__ import annotations

from tally.money.credit_types import FIAT_BY_ID, FIAT_CODES, USD_CENTS_ID, CreditType, fiat

BUILTIN_FIAT: tuple[CreditType, ...] = tuple(fiat(code) for code in FIAT_CODES)

__all__ = ["BUILTIN_FIAT", "FIAT_BY_ID", "USD_CENTS_ID"]
