"""Prove that llama.cpp runs on this CPU before a process first generates with it.

A llama.cpp library compiled for another CPU (AMX or AVX-512 kernels, a wheel reused from a
cache) dies with SIGILL at the first token and takes the whole process with it: `ask`, the
server, the test run. So the first generation happens in a short child process instead; its
verdict is cached per library build, CPU and model, so the check costs ~1 s once per machine.

Run as a script (by path, so the child imports nothing of imprint's and starts fast):
    python imprint/llm/selfcheck.py MODEL.gguf
"""

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 120.0
REBUILD_HINT = "rebuild it portably: `make clean && make test`, or scripts/llama-wheel.sh (docs/install.md)"


@dataclass(frozen=True)
class Verdict:
    runs: bool
    reason: str  # one line: what the child did
    system_info: str = ""  # llama.cpp's own list of the instruction sets compiled in, as the child printed it


def probe_command(gguf: Path) -> list[str]:
    """The child that loads the model and generates one token after a short prompt."""
    return [sys.executable, str(Path(__file__).resolve()), str(gguf)]


def cpu_flags() -> list[str]:
    """The instruction-set flags the kernel reports (x86 'flags', ARM 'Features')."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return sorted(line.split(":", 1)[1].split())
    except OSError:
        pass
    return []


def llama_library_files() -> list[Path]:
    """The compiled llama.cpp libraries of the installed llama-cpp-python."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return sorted(p for p in [*folder.glob("*.so*"), *folder.glob("*.dylib")] if p.is_file() and not p.is_symlink())


def _cache_key(gguf: Path, command: list[str]) -> str:
    parts = [platform.machine(), " ".join(cpu_flags()), str(gguf.resolve()), " ".join(command[1:])]
    for library in llama_library_files():
        stat = library.stat()
        parts.append(f"{library.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def check(gguf: Path, cache_dir: Path) -> Verdict:
    """Whether llama.cpp generates with this model on this machine; cached once per build and CPU."""
    command = probe_command(gguf)
    cached = cache_dir / "selfcheck" / f"llama-cpp-{_cache_key(gguf, command)}.json"
    try:
        return Verdict(**json.loads(cached.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    verdict = _run(command)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(verdict.__dict__))
    partial.replace(cached)
    return verdict


def _run(command: list[str]) -> Verdict:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, "OMP_NUM_THREADS": "2"}
        )
    except subprocess.TimeoutExpired:
        return Verdict(False, f"llama.cpp did not generate one token within {TIMEOUT_S:.0f} s")
    except OSError as error:
        return Verdict(False, f"could not start the llama.cpp check: {error}")
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        what = " (an instruction this CPU lacks)" if name == "SIGILL" else ""
        return Verdict(False, f"llama.cpp died of {name}{what} in the check process", done.stdout.strip())
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Verdict(False, f"llama.cpp check exited with {done.returncode}: {last[:200]}")
    return Verdict(True, "llama.cpp generated a token in a child process", done.stdout.strip())


def _generate_one_token(gguf: str) -> None:
    import llama_cpp

    print(llama_cpp.llama_print_system_info().decode(errors="replace"), flush=True)
    llm = llama_cpp.Llama(gguf, n_ctx=256, n_threads=2, n_threads_batch=2, verbose=False)
    # a prompt of a few dozen tokens runs the batched matrix kernels, then one decode step
    prompt = "Question: What is the capital of France? The answer is one word, a city.\n" * 3 + "Answer:"
    llm.create_completion(prompt, max_tokens=1, temperature=0.0)


if __name__ == "__main__":
    _generate_one_token(sys.argv[1])
