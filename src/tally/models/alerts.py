"""Alerts (threshold notifications, SPEC §8.1), their status per customer, and the evaluator's watermark.

- alerts: one row per threshold notification; `customer_id` NULL = every customer of the tenant. The
  type-specific scope (group values, custom-field filters, specifiers, invoice types, access type) is the
  `filters` document. `uniqueness_key` is unique per tenant while set; archiving may release it (NULL).
  All-customer alerts are swept once after creation (`sweep_pending`, `sweep_after` = last customer id
  done) so creation never rates every customer inside the request.
- alert_states: the status of one (alert, customer): ok | in_alarm, with the parts in alarm (segments,
  group values) in `detail`. `version` makes every status write a compare-and-set, so two evaluators can
  never both record (and notify) the same transition. `next_check_at` is when time alone can change the
  answer (a period or segment boundary, a days-left threshold, the periodic refresh).
- alert_watermarks: per tenant, when the evaluator last looked for changes (new events, ledger rows,
  contract edits...).

The two indexes at the end serve the evaluator's change feed on tables owned by other domains: "which
events arrived / which ledger rows were written since the last pass" must be an index range scan, not a
scan of the whole table every few seconds.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from tally.db.types import ExactDecimal
from tally.models.base import at, doc, key, metadata, ref, tenant_ref
from tally.models.contracts import ledger_entries
from tally.models.events import events

alerts = Table(
    "alerts",
    metadata,
    key(),
    tenant_ref(),
    Column("name", Text, nullable=False),
    Column("alert_type", String(64), nullable=False),
    Column("threshold", ExactDecimal, nullable=False),
    ref("credit_type_id", nullable=True),
    ref("customer_id", nullable=True),
    ref("billable_metric_id", nullable=True),
    doc("filters"),
    Column("evaluate_on_create", Boolean, nullable=False),
    Column("uniqueness_key", String(255), nullable=True),
    # enabled | archived
    Column("status", String(16), nullable=False),
    Column("sweep_pending", Boolean, nullable=False),
    ref("sweep_after", nullable=True),
    at("created_at"),
    at("archived_at", nullable=True),
)
Index("ix_alerts_tenant", alerts.c.tenant_id, alerts.c.status, alerts.c.id)
Index("ix_alerts_customer", alerts.c.tenant_id, alerts.c.customer_id)
Index("uq_alerts_uniqueness_key", alerts.c.tenant_id, alerts.c.uniqueness_key, unique=True)

alert_states = Table(
    "alert_states",
    metadata,
    tenant_ref(),
    ref("alert_id", "alerts"),
    ref("customer_id"),
    # ok | in_alarm
    Column("status", String(16), nullable=False),
    Column("triggered_by", String(64), nullable=True),
    # The figure last compared with the threshold (spend, usage, remaining balance, percent, days).
    Column("figure", ExactDecimal, nullable=True),
    doc("detail"),
    Column("version", Integer, nullable=False),
    at("updated_at"),
    at("evaluated_at"),
    at("next_check_at", nullable=True),
    PrimaryKeyConstraint("alert_id", "customer_id"),
)
Index("ix_alert_states_customer", alert_states.c.tenant_id, alert_states.c.customer_id)
Index("ix_alert_states_due", alert_states.c.next_check_at)

alert_watermarks = Table(
    "alert_watermarks",
    metadata,
    tenant_ref(primary_key=True),
    at("checked_at"),
)

# The alert evaluator's change feed (see the module docstring).
Index("ix_events_received", events.c.tenant_id, events.c.received_at)
Index("ix_ledger_entries_created", ledger_entries.c.tenant_id, ledger_entries.c.created_at)
