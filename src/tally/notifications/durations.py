"""Signed ISO-8601 durations, as Metronome's offset notifications take them ("P1D", "-PT2H", "-P3DT12H").

Years and months are calendar units (dateutil's relativedelta: Jan 31 + P1M = Feb 28/29), the rest exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from dateutil.relativedelta import relativedelta

from tally.errors import BadRequest

_PATTERN = re.compile(
    r"^(?P<sign>[-+])?P(?:(?P<Y>\d{1,4})Y)?(?:(?P<M>\d{1,5})M)?(?:(?P<W>\d{1,5})W)?(?:(?P<D>\d{1,6})D)?"
    r"(?:T(?:(?P<h>\d{1,7})H)?(?:(?P<m>\d{1,9})M)?(?:(?P<s>\d{1,10})S)?)?$"
)
MAX_YEARS = 100  # an offset further than this from its event is a typo, not a plan


@dataclass(frozen=True)
class Offset:
    text: str
    delta: relativedelta
    negative: bool

    def apply(self, moment: datetime) -> datetime:
        out: datetime = moment - self.delta if self.negative else moment + self.delta
        return out


def parse(text: str, field: str = "policy.offset") -> Offset:
    """Parse a signed ISO-8601 duration; anything else is a 400 naming `field`."""
    m = _PATTERN.match(text)
    units = {k: int(v) for k, v in m.groupdict().items() if v is not None and k != "sign"} if m else {}
    if m is None or not units or text.endswith("T"):
        raise BadRequest(f'{field}: must be an ISO-8601 duration such as "P1D" or "-PT2H" (got {text!r})')
    delta = relativedelta(
        years=units.get("Y", 0),
        months=units.get("M", 0),
        weeks=units.get("W", 0),
        days=units.get("D", 0),
        hours=units.get("h", 0),
        minutes=units.get("m", 0),
        seconds=units.get("s", 0),
    )
    base = datetime(2000, 1, 1, tzinfo=UTC)
    if base + delta > base.replace(year=2000 + MAX_YEARS):
        raise BadRequest(f"{field}: must be at most {MAX_YEARS} years")
    return Offset(text, delta, m.group("sign") == "-")
