# Probe test helpers. Use: make -f mk/probes.mk pycsw-env   (or include from the Makefile)
PYTHON ?= python3.11
PYCSW_VENV ?= .venv-pycsw

.PHONY: pycsw-env test-probes bench-probes

# pycsw 2.6.2 is the real OAI-PMH + SRU GISC in tests; it needs SQLAlchemy<2, which clashes
# with wisbot's own environment, hence its own venv (pyproj/shapely/OWSLib come as its deps).
pycsw-env: $(PYCSW_VENV)/.done
$(PYCSW_VENV)/.done:
	$(PYTHON) -m venv $(PYCSW_VENV)
	$(PYCSW_VENV)/bin/pip install -q "pycsw==2.6.2" "SQLAlchemy<2" "lxml" "OWSLib" "pyproj" "shapely"
	touch $@

test-probes: pycsw-env
	.venv/bin/pytest tests/probes -q

bench-probes:
	.venv/bin/python benchmarks/bench_probes.py
