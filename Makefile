# Two commands on a fresh machine: `make demo` and `make test`.
# Both create/update .venv with the pinned set (requirements.txt) and this
# package in editable mode; a second run finds the stamp and installs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.advcam_mm_installed
# One thread per torch process and no busy-waiting OpenMP threads: several
# processes (DDP ranks, CRF/label workers) share 2 cores here.
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONWARNINGS ?= ignore

.PHONY: venv demo test data clean

venv: $(STAMP)

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

data: $(STAMP)
	$(PY) tools/make_embedded_dataset.py --out data/embedded

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest -q tests

clean:
	rm -rf work_dirs data
