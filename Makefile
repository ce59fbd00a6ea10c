# `make demo` and `make test` each set up everything they need from a fresh clone.
# `make demo` installs the base package only (no torch, CPU only, a few hundred MB)
# into its own environment; `make test` installs the dev extra, which brings the
# [torch] extra for the export and exact-fp32 tests, pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
DEMO_VENV ?= .venv-demo
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
INSTALLED := $(VENV)/.installed-dev
DEMO_INSTALLED := $(DEMO_VENV)/.installed-base
BENCH_INSTALLED := $(VENV)/.installed-bench

.PHONY: demo test lint typecheck unit bench clean browser

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# The [ray] extra too, for the Ray job's tests (it installs in under 20 s).
	$(PIP) install -q -c constraints.txt -e '.[dev,ray]'
	touch $@

$(DEMO_INSTALLED): pyproject.toml
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	# The base package, and scikit-image for the sample photos the demo indexes.
	$(DEMO_VENV)/bin/python -m pip --disable-pip-version-check install -q -e . 'scikit-image>=0.22'
	touch $@

demo: $(DEMO_INSTALLED)
	$(DEMO_VENV)/bin/python examples/quickstart.py

lint: $(INSTALLED)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks

typecheck: $(INSTALLED)
	$(VENV)/bin/mypy

# The report tests render pages in Debian's chromium; install it where apt-get can
# (the tests skip, saying why, where it cannot be installed).
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
		( $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium ) \
			|| echo "chromium could not be installed: the browser tests will be skipped"; \
	fi

unit: $(INSTALLED) browser
	$(PY) -m pytest

test: lint typecheck unit

$(BENCH_INSTALLED): $(INSTALLED)
	$(PIP) install -q -c constraints.txt -e '.[dev,ray,bench]'
	touch $@

bench: $(BENCH_INSTALLED)
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
