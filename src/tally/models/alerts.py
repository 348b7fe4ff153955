"""Alerts, per-customer alert status, webhook endpoints and the webhook outbox."""

from __future__ import annotations
