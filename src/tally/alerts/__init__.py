"""Alerts: thresholds on spend, usage and balances per customer; notifications go out as webhooks."""
