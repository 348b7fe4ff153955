"""PURE: rating (no I/O)."""
