# Two commands a new machine needs: `make train` and `make test`. Both create .venv on first use.
# TF_EXTRA=gpu installs the CUDA build of TensorFlow instead of the CPU one.
PYTHON ?= python3
VENV ?= .venv
TF_EXTRA ?= cpu
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(TF_EXTRA)

.PHONY: train test venv clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(TF_EXTRA),test]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m training.train --model_dir=runs/digits-$$(date +%Y%m%d-%H%M%S) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs
