"""Embeddable customer dashboards (`POST /v1/dashboards/getEmbeddableUrl`): signed, expiring URLs to a
read-only customer-facing page (served by tally.console.embed)."""
