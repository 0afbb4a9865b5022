"""Answer speed of llama.cpp builds side by side: the portable build imprint installs vs others.

    python benchmarks/llama_builds.py [--build native=/path/to/llama_cpp_python-...whl ...] [--runs 5]

Each build runs in its own child process (a wheel is unpacked into a scratch folder and put first
on PYTHONPATH; "installed" is the one in this environment), on the packaged Gemma 3 270M GGUF: a
641-token prompt, then 64 generated tokens, greedy, 2 threads; best of --runs.
Prints a table and writes benchmarks/results/llama_builds.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from common import write_result
from rich.console import Console
from rich.table import Table

from imprint import Settings
from imprint.llm.local import gguf_file

CHILD = r"""
import json, sys, time
import llama_cpp
gguf, runs = sys.argv[1], int(sys.argv[2])
llm = llama_cpp.Llama(gguf, n_ctx=1024, n_threads=2, n_threads_batch=2, verbose=False)
prompt = "Memory: " + " ".join(f"Note {i}: Mira Quenton met Ana Lopez in Tallinn on day {i}." for i in range(34))
prompt += "\nQuestion: Where did Mira meet Ana?\nAnswer:"
best = None
for _ in range(runs):
    llm.reset()  # llama-cpp-python reuses an evaluated prompt prefix: start cold each time
    start = time.perf_counter()
    llm.create_completion(prompt, max_tokens=1, temperature=0.0)
    prefill = time.perf_counter() - start
    llm.reset()
    start = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=64, temperature=0.0, repeat_penalty=1.0, stop=[])
    total = time.perf_counter() - start
    usage = out["usage"]
    row = {"prompt_tokens": usage["prompt_tokens"], "prompt_tok_s": usage["prompt_tokens"] / prefill,
           "generated": usage["completion_tokens"],
           "gen_tok_s": (usage["completion_tokens"] - 1) / max(total - prefill, 1e-9), "answer_s": total}
    if best is None or row["answer_s"] < best["answer_s"]:
        best = row
best["system_info"] = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
print(json.dumps(best))
"""


def measure(name: str, wheel: Path | None, gguf: Path, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ)
        if wheel is not None:
            zipfile.ZipFile(wheel).extractall(scratch)
            env["PYTHONPATH"] = scratch + os.pathsep + env.get("PYTHONPATH", "")
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(gguf), str(runs)], capture_output=True, text=True, env=env, cwd=scratch
        )
    if done.returncode != 0:
        return {"build": name, "error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return {"build": name, **json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", action="append", default=[], help="NAME=WHEEL, another build to compare")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = Settings()
    gguf = gguf_file(settings.model, settings.cache_dir)
    builds: list[tuple[str, Path | None]] = [("installed (portable)", None)]
    builds += [(spec.rsplit("=", 1)[0], Path(spec.rsplit("=", 1)[1])) for spec in args.build]
    rows = [measure(name, wheel, gguf, args.runs) for name, wheel in builds]
    base = rows[0].get("answer_s")
    table = Table("build", "prompt tok/s", "generated tok/s", "one answer s", "vs installed")
    notes = []
    for row in rows:
        if "error" in row:
            table.add_row(row["build"], "-", "-", "-", "-")
            notes.append(f"{row['build']}: {row['error']}")
            continue
        row["vs_installed"] = row["answer_s"] / base if base else None
        sets = " ".join(
            part.split("=")[0].strip()
            for part in row["system_info"].replace("CPU :", "").split("|")
            if part.strip().endswith("= 1")
        )
        table.add_row(
            row["build"],
            f"{row['prompt_tok_s']:.0f}",
            f"{row['gen_tok_s']:.1f}",
            f"{row['answer_s']:.2f}",
            f"{row['vs_installed']:.2f}x",
        )
        notes.append(f"{row['build']}: {sets}")
    console = Console()
    console.print(table)
    for note in notes:
        console.print(note, markup=False)
    print(
        write_result(
            "llama_builds", {"command": " ".join(sys.argv), "model": str(gguf.name), "runs": args.runs, "builds": rows}
        )
    )


if __name__ == "__main__":
    main()
