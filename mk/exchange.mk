# Exchange watch helpers. Use: make bench-exchange   (included from the Makefile)
.PHONY: test-exchange bench-exchange

test-exchange: pycsw-env
	.venv/bin/pytest tests/exchange -q

bench-exchange:
	.venv/bin/python benchmarks/bench_exchange.py
