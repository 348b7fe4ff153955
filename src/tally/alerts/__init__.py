"""Alerts: thresholds on spend, usage and balances, evaluated per customer; notifications go out as webhooks."""
