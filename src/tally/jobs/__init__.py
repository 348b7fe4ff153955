"""Durable background work: finalizing invoices when they fall due, on a clock that tests can move."""
