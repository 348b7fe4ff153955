"""PURE: what a billable metric means: filters, aggregations, windows."""
