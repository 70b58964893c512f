# Two entry points, each sets up its own virtual environment from scratch:
#   make run    the main job: fetch MNIST, train LeNet-5, save it, print test accuracy
#   make test   the test suite (includes the PyTorch reference tests)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
EPOCHS ?= 5

.PHONY: run test venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,image]"
	touch $@

venv: $(VENV)/.installed

run: venv
	$(VENV)/bin/neurona train --model lenet5 --epochs $(EPOCHS) --out out/lenet5.neurona

test: venv
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $(PY) -m pytest

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
