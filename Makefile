# One entry point for people and CI. Every target sets up .venv first (torch's CPU build before the
# project, so pip never pulls the multi-GB CUDA build).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
Q      ?= How many community workers should a city have per 10,000 residents?

.PHONY: setup query test test-benchmarks lint bench bench-quick default-index subspace translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

query: $(STAMP)
	$(BIN)/swsearch query "$(Q)"

# ruff, then every test but the benchmark harness's (pyproject's addopts leave out the "benchmark" marker)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

# the quick benchmark run end to end (~210 s), the 30-second PostgreSQL stress test and the MiniLM ONNX export
# tests (~1 min): CI runs them after make test
test-benchmarks: $(STAMP)
	$(BIN)/pytest -q -m "benchmark or stress or export"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# Quality, speed and index-type benchmarks; writes benchmarks/results/full.json and the README tables.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

# Rebuild the prebuilt index of the bundled corpus that ships in the package (from scratch: an update in place
# would keep the previous version's folder beside the new one, and the wheel would ship both)
default-index: $(STAMP)
	rm -rf src/swsearch/data/default_index
	$(BIN)/python -m swsearch index corpus --out src/swsearch/data/default_index

# the default model's language subspace, fitted on the shared parallel pairs of books 1-2 (subspace.py)
subspace: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m benchmarks.fit_subspace

# the translations learned from the same pairs, added to CC-CEDICT's in query translation (translations.py);
# rebuild the default index after, so that its stored tables hold them
translations: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m benchmarks.fit_translations

clean:
	rm -rf $(VENV) build dist .pytest_cache
