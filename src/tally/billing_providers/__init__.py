"""Billing providers: the tenant's Stripe connection, Metronome's billing-provider settings, customer
billing configurations, and the Stripe sync outbox that finalization and void write to (docs/stripe.md)."""
