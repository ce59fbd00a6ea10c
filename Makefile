# `make demo` and `make test` each set up everything they need from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
INSTALLED := $(VENV)/.installed-dev
BENCH_INSTALLED := $(VENV)/.installed-bench

.PHONY: demo test lint typecheck unit bench clean browser

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: $(INSTALLED)
	$(PY) examples/quickstart.py

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
	$(PIP) install -q -c constraints.txt -e '.[dev,bench]'
	touch $@

bench: $(BENCH_INSTALLED)
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
