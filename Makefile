# hostpatrol — the two set-up commands are `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install clean windows-zip

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("hostpatrol needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[collector,postgres,test]'
	touch $(STAMP)

install: $(STAMP)

## Run the main job: a collector on SQLite in ./demo-data, a local agent, one inspection.
demo: $(STAMP)
	bash scripts/demo.sh

## Run the whole test suite (installs the Debian tools the real-host tests drive), then its
## date-sensitive part again under a clock shifted 30 years ahead and across a New Year.
test: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest
	PY=$(BIN)/python bash scripts/shifted-clock.sh

lint: $(STAMP)
	$(BIN)/ruff check .

## Benchmarks (not part of the tests): prints figures, exits non-zero on a missed target.
bench: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/python bench/run.py $(BENCH)

## The Windows package: dist/hostpatrol-agent-<version>-win_amd64.zip (docs/unattended.md).
windows-zip: $(STAMP)
	$(BIN)/python scripts/build_windows_zip.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .ruff_cache
