# zspace developer entry points. `make demo` and `make test` are the README's Quick start.
PYTHON ?= python3
VENV ?= .venv
# The CPU build is enough here; on a GPU machine use e.g. `make TORCH_SPEC=torch demo` for PyPI's CUDA build.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean

$(BIN)/zspace: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	# torch stays pinned: torch-fidelity pulls torchvision, whose newest release would otherwise replace torch
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]" "$(TORCH_SPEC)"
	touch $@

setup: $(BIN)/zspace

demo: setup
	$(BIN)/zspace demo --out demo-out

test: setup
	bash scripts/ensure-browser.sh
	ZSPACE_PROGRESS=0 MPLBACKEND=Agg $(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo-out
