# The targets CI runs (.ci/run). Everything goes through dev.py, which needs only Python 3.11+.
.PHONY: serve test check ci bench

serve:
	python3 dev.py serve

test:
	python3 dev.py test

check:
	python3 dev.py check

ci: check test

bench:
	python3 dev.py tally --help >/dev/null
	.venv/bin/python bench/rating_bench.py
	.venv/bin/python bench/ingest_bench.py
	.venv/bin/python bench/usage_bench.py
