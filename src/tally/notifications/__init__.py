"""Lifecycle notifications: Metronome's `v2.notifications.*` and the contract, commit and credit lifecycle
webhook events (see tally.models.notifications and docs/decisions.md)."""
