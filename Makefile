# rdstats: the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: demo test lint typecheck unit notebooks bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rdstats demo --out demo_output

lint: $(STAMP)
	$(BIN)/ruff check rdstats tests benchmarks
	$(BIN)/ruff format --check rdstats tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

notebooks: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbmake notebooks case_studies

test: lint typecheck unit notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_foundation.py
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_borrowing.py
	$(BIN)/python benchmarks/bench_single_arm.py
	$(BIN)/python benchmarks/bench_group_sequential.py
	$(BIN)/python benchmarks/bench_multi_arm.py
	$(BIN)/python benchmarks/bench_external.py
	$(BIN)/python benchmarks/bench_external_design.py
	$(BIN)/python benchmarks/bench_nof1.py
	$(BIN)/python benchmarks/bench_basket.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
