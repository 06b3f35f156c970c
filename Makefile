# Two entry points on a fresh machine: `make demo` (install, then the main job on the synthetic
# demo catalogue) and `make test` (install, then the test suite). Both create .venv themselves.
PY ?= python3
TORCH_PIP_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned, so that nothing later picks another build. Which wheel pip finds is
	# the machine's pip configuration: here find-links holds the CPU build. On a plain PyPI setup,
	# make TORCH_PIP_ARGS='--index-url https://download.pytorch.org/whl/cpu' avoids the multi-GB CUDA one.
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e '.[dev,distributed]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	bash scripts/test.sh

clean:
	rm -rf $(VENV) runs/demo
