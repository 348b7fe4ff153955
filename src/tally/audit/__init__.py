"""The audit log: one row per API mutation, written in the same transaction as the change."""
