# Two commands set everything up on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_LEADS ?= 20000
SEED ?= 7
CAPACITY ?= 100/week

.PHONY: demo test lint bench mlflow-ui docs-figures clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## demo: simulate an MA export and run the whole lead-scoring job on it (embedded DuckDB, local MLflow)
demo: $(STAMP)
	$(BIN)/leadscore demo --out $(DEMO_DIR) --leads $(DEMO_LEADS) --seed $(SEED) --capacity $(CAPACITY)

## test: install and run the whole suite
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_simulate.py

## docs-figures: run the README's tour under tour/ and rewrite its example outputs from that run
docs-figures: $(STAMP)
	$(BIN)/python docs/readme_figures.py

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(DEMO_DIR)/mlflow.db --port 5000

clean:
	rm -rf $(DEMO_DIR) tour .pytest_cache .ruff_cache
