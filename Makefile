# interview-guard: the two commands a newcomer runs are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv browser demo test test-fast lint bench clean

# Create .venv and install the package with its test extra (re-run when pyproject.toml changes).
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "interview-guard needs Python 3.11, got " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

venv: $(STAMP)

# Debian's Chromium and ChromeDriver for the browser test (installed when missing and we are root).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and chromium-driver for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "note: /usr/bin/chromium is missing and this is not root: the browser test skips (fails when CI is set)"; \
	  fi; \
	fi

# Scan the bundled sample sessions: ranked summary (+ demo-out/index.html), then one text report per session.
demo: $(STAMP)
	@rm -rf demo-out
	$(BIN)/interview-guard batch sample_sessions --out demo-out --jobs 2 --html --quiet
	@for r in demo-out/sessions/*.json; do $(BIN)/interview-guard report "$$r" --format text; echo; done
	@echo "HTML reports: demo-out/index.html"

# Lint: ruff (rules and format), mypy (strict on signals/ and analyzers/), the layer rules of docs/architecture.md.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python tools/check_architecture.py

# The whole test suite.
test: $(STAMP) browser
	$(BIN)/python -m pytest

# Only the quick tests (no real video decoding).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not video"

# Speed and memory benchmarks (run by hand; results printed, never asserted).
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache build src/*.egg-info
