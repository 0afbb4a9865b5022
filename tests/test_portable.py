"""llama.cpp is built for a portable CPU baseline and proven to run before it answers."""

import logging
import platform
import re
import shutil
import subprocess
import sys

import pytest

from imprint import Memory, Settings
from imprint.llm import selfcheck
from imprint.llm.local import gguf_file

DIES_OF_SIGILL = "import os, signal, sys; open(sys.argv[1], 'a').write('ran\\n'); os.kill(os.getpid(), signal.SIGILL)"


def sigill_child(monkeypatch, runs_log):
    """The check's child really dies of SIGILL, as a build with AMX kernels does on a CPU without them."""
    monkeypatch.setattr(selfcheck, "probe_command", lambda gguf: [sys.executable, "-c", DIES_OF_SIGILL, str(runs_log)])


def test_a_child_that_dies_of_sigill_fails_the_check_once_and_the_verdict_is_cached(monkeypatch, tmp_path):
    sigill_child(monkeypatch, tmp_path / "runs")
    gguf = gguf_file(Settings().model, Settings().cache_dir)
    first = selfcheck.check(gguf, tmp_path / "cache")
    assert not first.runs and "SIGILL" in first.reason
    assert selfcheck.check(gguf, tmp_path / "cache") == first
    assert (tmp_path / "runs").read_text() == "ran\n"  # the second verdict came from the cache


def test_memory_falls_back_to_transformers_and_answers_when_llama_cpp_dies(
    monkeypatch, tmp_path, embedder, model, caplog
):
    sigill_child(monkeypatch, tmp_path / "runs")
    memory = Memory(
        settings=Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache"), embedder=embedder, model=model
    )
    memory.add("Mira Okafor founded Zorblat Industries in 1987.", "s")
    with caplog.at_level(logging.WARNING, logger="imprint"):
        answer = memory.ask("Who founded Zorblat Industries?", "s", strategy="index")
    assert memory.answerer is model and memory.engine.name == "transformers"
    assert "Okafor" in answer.text
    warnings = [r.getMessage() for r in caplog.records if r.name == "imprint"]
    assert len(warnings) == 1 and "SIGILL" in warnings[0] and "rebuild" in warnings[0]
    memory.close()


def test_an_explicit_llama_cpp_engine_that_dies_is_an_error_not_a_crash(monkeypatch, tmp_path, embedder, model):
    from imprint.errors import ModelError

    sigill_child(monkeypatch, tmp_path / "runs")
    memory = Memory(
        settings=Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", engine="llama.cpp"),
        embedder=embedder,
        model=model,
    )
    with pytest.raises(ModelError, match="SIGILL"):
        memory.answerer  # noqa: B018


def test_the_real_llama_cpp_passes_its_check_and_reports_its_instruction_sets(tmp_path):
    gguf = gguf_file(Settings().model, Settings().cache_dir)
    verdict = selfcheck.check(gguf, tmp_path)
    assert verdict.runs, verdict.reason
    assert "AVX2 = 1" in verdict.system_info or platform.machine() != "x86_64"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the x86-64 baseline is what the build guarantees")
def test_the_installed_llama_cpp_holds_no_amx_or_avx512_instructions():
    """The portable build (scripts/llama-wheel.sh) stops at AVX2: no AMX tiles, no zmm registers."""
    libraries = [p for p in selfcheck.llama_library_files() if "ggml" in p.name or "llama" in p.name]
    assert libraries, "llama-cpp-python ships no libraries?"
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) comes with the C compiler the build needs"
    amx = re.compile(r"\b(tilezero|tileloadd|tileloaddt1|tilestored|ldtilecfg|sttilecfg|tilerelease|tdpb\w+)\b")
    avx2_kernels = False
    for library in libraries:
        code = subprocess.run(
            [objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True, check=True
        ).stdout
        assert not amx.search(code), f"{library.name} holds AMX instructions"
        assert "%zmm" not in code, f"{library.name} holds AVX-512 instructions"
        avx2_kernels |= "ggml-cpu" in library.name and "%ymm" in code
    assert avx2_kernels, "the CPU kernels were built without AVX2: slower than the baseline promises"
