#!/usr/bin/env python3
"""Regenerate docs/compatibility.md from the API catalog and tally's own route table.

    .venv/bin/python scripts/compat_matrix.py [../shared/api-catalog.json]

An endpoint counts as served when tally has a route with its method and path. Notes per endpoint live in
NOTES below, so the generated page keeps them.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from fastapi.routing import APIRoute

ROOT = Path(__file__).resolve().parents[1]

NOTES: dict[str, str] = {
    "client.v1.billable_metrics.create": (
        "streaming and SQL metrics (Metronome's documented SQL subset; 400 names anything outside it)"
    ),
    "client.v1.billable_metrics.update": "name only, as in Metronome",
    "client.v1.usage.ingest": "per-event accepted/duplicate report in the body",
    "client.v1.contracts.create": "every term; package_id/package_alias take the package's terms, dates "
    "resolved from starting_at (only customer_id, starting_at, name, uniqueness_key, custom_fields and "
    "transition may be sent beside them)",
    "client.v1.packages.create": "billing_provider, delivery_method, spend_trackers and threshold "
    "configurations answer 400 (not supported on packages yet)",
    "client.v2.contracts.edit": "update_subscriptions, update_recurring_*, threshold updates, reseller "
    "royalties, billing/revenue provider updates answer 400 (not supported yet)",
    "client.v1.contracts.rate_cards.named_schedules.list": "`properties` answers 400 (not supported yet)",
    "client.v1.contracts.get_net_balance": "invoice_inclusion_mode accepted; only finalized deductions "
    "are stored",
    "client.v1.settings.billing_providers.create": "marketplace configurations stored and listed; tally "
    "delivers only to Stripe (docs/stripe.md)",
    "client.v1.customers.set_billing_configurations": "stripe links drive collection (docs/stripe.md); "
    "other providers stored",
    "client.v1.dashboards.get_embeddable_url": "signed URL to tally's own /embed page, valid 24 hours "
    "(docs/console.md)",
}


def served_routes() -> set[tuple[str, str]]:
    from tally.server.routes import ROUTERS

    out = set()
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for method in route.methods:
                    out.add((method, route.path))
    return out


def normalize(path: str) -> str:
    # Path parameter names differ between the catalog and our routes; compare shapes only.
    parts = ["{}" if p.startswith("{") else p for p in path.split("/")]
    return "/".join(parts)


def _fields_section() -> str:
    """Request fields tally accepts but only stores and echoes (server.request_fields); every other
    accepted field is honoured or refused with a 400 that names it."""
    from tally.server.request_fields import ECHO_ONLY, REFUSED_WITH, accepted_fields

    fields = accepted_fields()
    echo = [
        f"| `{key}` | {', '.join(f'`{r}`' for r in fields[key])} | {reason} |"
        for key, reason in sorted(ECHO_ONLY.items())
    ]
    refused = [f"| `{key}` | `{parent}` |" for key, parent in sorted(REFUSED_WITH.items())]
    return (
        f"""
## Request fields

tally accepts {len(fields)} distinct request fields (model.field) across its routes; an unknown field is a
400. Each accepted field is honoured, except those below. `tests/unit/test_request_fields.py` fails when a
field is accepted without being read by the code or listed here.

### Stored and echoed only

These are kept as given and returned on reads; they change nothing that tally bills.

| field | routes | why |
|---|---|---|
"""
        + "\n".join(echo)
        + """

### Refused with a 400

Beyond fields refused where tally checks them (for example `add_reseller_royalties` on
`v2.contracts.edit`, `invoice_inclusion_mode: FINALIZED_AND_DRAFT`), these fields cannot be sent because a
parent object is refused:

| field | refused with |
|---|---|
"""
        + "\n".join(refused)
        + "\n"
    )


def main() -> None:
    catalog_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "api-catalog.json"
    catalog = json.loads(catalog_path.read_text())
    served = {(m, normalize(p)) for m, p in served_routes()}
    rows = []
    counts: Counter[str] = Counter()
    for e in sorted(catalog, key=lambda e: (e["tier"], e["sdk_method"])):
        ok = (e["http_method"], normalize(e["path"])) in served
        status = "yes" if ok else "no"
        counts[f"{e['tier']} {status}"] += 1
        note = NOTES.get(e["sdk_method"], "")
        if e.get("deprecated_plans_endpoint"):
            note = (note + "; " if note else "") + "Plans (deprecated)"
        method = e["sdk_method"].removeprefix("client.")
        rows.append(f"| {e['tier']} | `{method}` | `{e['http_method']} {e['path']}` | {status} | {note} |")
    tiers = sorted({e["tier"] for e in catalog})
    summary = ", ".join(f"{t}: {counts[f'{t} yes']}/{counts[f'{t} yes'] + counts[f'{t} no']}" for t in tiers)
    text = (
        f"""# Metronome API compatibility

Which endpoints of the official SDK (`metronome-sdk==4.12.0`) tally serves. "yes" means tally has the route
and the SDK-driven suite exercises it in strict response-validation mode on SQLite and PostgreSQL.
Generated by `scripts/compat_matrix.py` from the API catalog and tally's route table; do not edit by hand.

Served by tier: {summary}.

| tier | SDK method | HTTP | served | notes |
|---|---|---|---|---|
"""
        + "\n".join(rows)
        + "\n"
        + _fields_section()
    )
    (ROOT / "docs" / "compatibility.md").write_text(text)
    print(f"wrote docs/compatibility.md ({summary})")


if __name__ == "__main__":
    main()
