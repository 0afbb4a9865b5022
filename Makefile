# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export CMAKE_BUILD_PARALLEL_LEVEL := 2

.PHONY: demo test test-fast bench quality clean

# llama-cpp-python is built once for a portable instruction set (scripts/llama-wheel.sh: no
# -march=native, no AVX-512 or AMX) into a folder named after its flags, and installed from there
# before anything else can pull a wheel pip cached from a native build.
$(VENV)/installed: pyproject.toml scripts/llama-wheel.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --no-index --find-links "$$(PYTHON=$(PY) scripts/llama-wheel.sh)" llama-cpp-python
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/installed
	$(PY) -m imprint.demo

test: $(VENV)/installed
	$(PY) -m pytest -q

test-fast: $(VENV)/installed
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
