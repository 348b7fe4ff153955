"""Invoices: drafts computed in real time, finalized snapshots, void and regenerate (SPEC §6)."""
