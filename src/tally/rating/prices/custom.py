"""CUSTOM rates: priced by a caller-supplied processor (SPEC §4.3 leaves them client-specific).

A processor is a pure function ``(quantity, custom_rate) -> amount``. It is looked up by the
``custom_rate["processor"]`` name in the registry passed to the engine; a CUSTOM rate without a
registered processor is not billed and is reported in the invoice warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

CustomPricer = Callable[[Decimal, Mapping[str, object]], Decimal]


def custom_processor_name(custom_rate: Mapping[str, object] | None) -> str | None:
    if not custom_rate:
        return None
    name = custom_rate.get("processor")
    return name if isinstance(name, str) else None
