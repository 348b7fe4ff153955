"""Threshold billing (SPEC §5.10 spend thresholds, §5.11 prepaid-balance recharge): when a contract
crosses its configured threshold, grant a PREPAID commit and invoice it at once.

* Prepaid balance recharge: the contract's available balance is every PREPAID commit and credit it can
  draw (its own and the customer-level ones that apply to it) in the configuration's credit type, SPEND
  access, segments active now, after what finalized invoices took and what its open drafts would take.
  At or below `threshold_amount`, a commit of `recharge_to_amount - balance` is granted from the start of
  the current hour for `commit.duration` (default one year).
* Spend threshold: the uncovered spend of the current usage period (its draft's usage, subscription and
  conversion lines less the prepaid commits and credits applied to them; earlier threshold commits are
  among those) reaching `threshold_amount` grants a commit of exactly that amount, applicable to
  everything, whose access is the current period, so the period's usage invoice draws it down.

Each granted commit has one invoice-schedule item now, so a SCHEDULED commit-purchase invoice is
finalized in the same transaction; with `discount_configuration` it bills `payment_fraction` of the
amount granted (rounded to the currency). tally has no payment processor: every payment gate behaves as
NONE (the commit is usable at once).

Idempotence and races: the worker first looks in a read transaction; when something is due, the
contract is evaluated again in its own write transaction that first locks the contract's
`threshold_state` row (PostgreSQL: FOR UPDATE, SKIP LOCKED in the worker; SQLite serializes writers) and
recomputes from the stored commits. A grant changes what the next evaluation sees (the balance is
back above the threshold; the spend is covered), so repeating a pass grants nothing; commit ids derive
from the contract and the number of earlier grants, so even an unlocked duplicate would collide on the
primary key instead of granting twice.

Modules, by concept:

* `run`: the worker step (`run`: sync, then look and lock per contract) and `evaluate_now`, the
  immediate evaluation after a contract write;
* `evaluate`: one contract's evaluation: loads the draft, balances and trackers, asks `decide`, grants;
* `decide` (pure): is a configuration enabled, is a threshold crossed, and the commit it calls for;
* `balance` (pure): the available prepaid balance a recharge compares with its threshold;
* `spend_trackers` (pure): which commit purchases a spend tracker counts, and the payment fraction
  its cap leaves;
* `grant`: the commit document, its invoice date, storing it;
* `repository`: the `threshold_state` table (sync flags and the per-contract evaluation lock).
"""
