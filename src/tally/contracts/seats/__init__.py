"""SEAT_BASED subscriptions (SPEC §5.8): seat updates in a v2 edit, the seat and quantity history reads
and per-seat balances.

A seat-based subscription's terms document keeps its `seat_config` (as created) and `seat_events`: every
seat change ever accepted, in the order accepted (`{starting_at, op, seat_ids | quantity}`). Replaying them
by date (stable, so earlier edits and the order within a request win ties) gives the assigned seat ids and
the total at any instant. A seat change that moves the total is also written as an ordinary absolute
`quantity_updates` entry (marked `seat_change`), regenerated on every seat edit, so the rating engine,
the quantity schedule and invoices treat it exactly like a QUANTITY_ONLY quantity update.

A subscription converted from QUANTITY_ONLY keeps its earlier quantity updates (unmarked): its whole
quantity becomes unassigned seats, and those updates keep changing the total (the unassigned count).

Modules, by concept:

* `replay` (pure): the seat events replayed into seat segments and regenerated quantity updates;
* `updates`: the v2 edit's seat changes (`quantity_management_mode_update`, `seat_updates`), validated
  and appended to the stored subscription;
* `schemas`: the read requests;
* `service`: the seats history and the quantity history (quantity x the engine's unit price);
* `balances`: each seat's prepaid commits and credits;
* `endpoints`: the three read routes.
"""
