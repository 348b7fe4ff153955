"""The immutability guard on issued invoices, as SQL for each backend.

Once an invoice has left DRAFT, the guarded columns never change and a FINALIZED row may only become
VOID. Migrations that add guarded columns re-create the guard with the longer list (0010, 0012).
"""

from __future__ import annotations


def pg_guard(columns: list[str]) -> str:
    changed = "\n    OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    return f"""
CREATE OR REPLACE FUNCTION tally_invoice_guard() RETURNS trigger AS $$
BEGIN
  IF OLD.status <> 'DRAFT' AND (
       {changed}
    OR (OLD.status = 'VOID' AND NEW.status <> 'VOID')
    OR (OLD.status = 'FINALIZED' AND NEW.status NOT IN ('FINALIZED', 'VOID'))) THEN
    RAISE EXCEPTION 'issued invoices are immutable';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""


def sqlite_guard(columns: list[str]) -> str:
    changed = "\n  OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
    return f"""
CREATE TRIGGER invoices_immutable BEFORE UPDATE ON invoices
WHEN OLD.status <> 'DRAFT' AND (
     {changed}
  OR (OLD.status = 'VOID' AND NEW.status <> 'VOID')
  OR (OLD.status = 'FINALIZED' AND NEW.status NOT IN ('FINALIZED', 'VOID')))
BEGIN
  SELECT RAISE(ABORT, 'issued invoices are immutable');
END
"""
