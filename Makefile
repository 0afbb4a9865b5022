# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# llama-cpp-python builds from source (~7 min once; pip caches the wheel)
export CMAKE_BUILD_PARALLEL_LEVEL := 2

.PHONY: demo test test-fast bench clean

$(VENV)/installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/installed
	$(PY) -m imprint.demo

test: $(VENV)/installed
	$(PY) -m pytest -q

test-fast: $(VENV)/installed
	$(PY) -m pytest -q -m "not slow"

bench: $(VENV)/installed
	$(PY) benchmarks/store.py
	$(PY) benchmarks/locomo_recall.py
	$(PY) benchmarks/answer_latency.py

clean:
	rm -rf $(VENV) imprint-data demo-output
