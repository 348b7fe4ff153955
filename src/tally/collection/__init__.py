"""Collection through Stripe: the worker step that sends staged invoices (sync.py), the periodic
reconcile, and the Stripe webhook route (webhook.py). See docs/stripe.md."""
