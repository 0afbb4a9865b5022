"""Start-up time of the commands people type most: wall time of `imprint --help`, `list`, `search`,
`explain` and `ask`, each a fresh process, on a small space.

    python benchmarks/startup.py [--runs 5]

The space (20 notes) is filled first; the embedder's ONNX file and the model's float copy already
exist (they are made once per machine). Also shown: which model libraries each command imported.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory

HEAVY = ("torch", "transformers", "peft", "sentence_transformers", "llama_cpp")
PROBE = (
    "import sys, runpy\nsys.argv = {argv!r}\ntry:\n    runpy.run_module('imprint.cli', run_name='__main__')\n"
    "except SystemExit:\n    pass\nprint('HEAVY', [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)\n"
)


def run(argv: list[str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=["imprint", *argv], heavy=HEAVY)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    seconds = time.perf_counter() - started
    heavy = eval(done.stderr.rsplit("HEAVY", 1)[1])  # noqa: S307 (the list this script printed)
    return seconds, heavy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as folder:
        with Memory(Path(folder)) as memory:
            for n in range(20):
                memory.add(f"Note {n}: Mira Quenton met person {n} in Tallinn on day {n}.", space="s")
            memory.model.count_tokens("x")  # the float copy exists, as on any machine after the first answer
        data = ["--space", "s", "--data", folder]
        commands = {
            "--help": ["--help"],
            "list": ["list", *data],
            "search": ["search", "who did Mira meet", *data],
            "explain": ["explain", "who did Mira meet", *data],
            "ask": ["ask", "Who did Mira meet?", *data],
        }
        results = {}
        for name, argv in commands.items():
            runs = [run(argv) for _ in range(args.runs)]
            seconds = [s for s, _ in runs]
            results[name] = {"median_s": statistics.median(seconds), "max_s": max(seconds), "imports": runs[0][1]}
    table = Table("command", "median s", "max s", "model libraries imported")
    for name, row in results.items():
        table.add_row(name, f"{row['median_s']:.2f}", f"{row['max_s']:.2f}", ", ".join(row["imports"]) or "none")
    console.print(table)
    console.print(f"wrote {write_result('startup', {'runs': args.runs, 'commands': results})}")


if __name__ == "__main__":
    main()
