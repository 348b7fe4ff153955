"""The fiat credit types every tenant has from the start (SPEC §0.1).

USD is "USD (cents)" with Metronome's own id; every other supported fiat currency counts whole units.
Ids of the others are derived (uuid5) so they are identical on every tally installation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

USD_CENTS_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
_NAMESPACE = uuid.UUID("6f1f3c1e-7a52-4b8e-9d0f-8a7f0b6c2d11")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

FIAT_CODES = (
    "USD",
    "AUD",
    "BRL",
    "CAD",
    "CHF",
    "CZK",
    "EUR",
    "GBP",
    "INR",
    "MXN",
    "NGN",
    "NOK",
    "PLN",
    "SEK",
    "TRY",
    "ZAR",
    "NZD",
    "SGD",
)


@dataclass(frozen=True)
class Fiat:
    id: str
    code: str
    name: str
    created_at: datetime


def _fiat(code: str) -> Fiat:
    if code == "USD":
        return Fiat(USD_CENTS_ID, code, "USD (cents)", _EPOCH)
    return Fiat(str(uuid.uuid5(_NAMESPACE, f"fiat:{code}")), code, code, _EPOCH)


BUILTIN_FIAT: tuple[Fiat, ...] = tuple(_fiat(code) for code in FIAT_CODES)
BUILTIN_BY_ID = {f.id: f for f in BUILTIN_FIAT}
