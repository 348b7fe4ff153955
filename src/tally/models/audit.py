"""The audit log of API mutations."""

from __future__ import annotations
