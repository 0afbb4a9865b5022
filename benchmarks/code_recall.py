"""Code memory on a real repository: the click package's source as installed (its full source
ships in the wheel). Ingest it, sync it unchanged and after one edit, and ask 50 questions a
developer would ask (benchmarks/data/code_questions.json), each with the file and symbol that
answer it.

    python benchmarks/code_recall.py [--repo PATH [--files N]]

Reported: ingest time and memories per second, sync time with no change and after one file
changed, and recall@1/5/10 of the right symbol for keyword (BM25 over words and identifier parts),
dense (the embedder) and hybrid (both, fused) search. With --repo, only the timings, on that folder
(its first N Python files in path order with --files).
"""

import argparse
import importlib.metadata
import shutil
import tempfile
import time
from pathlib import Path

import click
from common import ROOT, save_bar_plot, write_result
from rich.console import Console
from rich.progress import Progress, TimeElapsedColumn
from rich.table import Table

from imprint import Memory

QUESTIONS = ROOT / "benchmarks" / "data" / "code_questions.json"
DEPTHS = (1, 5, 10)


def symbol_of(chunk) -> str:
    return f"{chunk.metadata.get('path')} {chunk.metadata.get('symbol')}"


def timings(memory: Memory, folder: Path, space: str) -> dict:
    started = time.perf_counter()
    with Progress(*Progress.get_default_columns(), TimeElapsedColumn()) as progress:
        task = progress.add_task("ingesting files", total=None)
        report = memory.add_paths(
            [folder], space, lambda done, total: progress.update(task, completed=done, total=total)
        )
    ingest = time.perf_counter() - started
    unchanged = memory.sync(folder, space)
    edited = sorted(folder.rglob("*.py"))[0]
    edited.write_text(edited.read_text() + "\n\ndef added_by_the_benchmark():\n    return 1\n")
    changed = memory.sync(folder, space)
    return {
        "files": report.added,
        "memories": report.indexed,
        "skipped": len(report.skipped),
        "ingest_s": ingest,
        "memories_per_s": report.indexed / ingest,
        "sync_unchanged_s": unchanged.seconds,
        "sync_unchanged_files": unchanged.unchanged,
        "sync_one_changed_s": changed.seconds,
        "sync_one_changed": len(changed.changed),
    }


def recall(memory: Memory, space: str, questions: list[dict]) -> dict:
    opened = memory.space(space)
    found: dict[str, list[int]] = {"keyword": [], "dense": [], "hybrid": []}  # rank of the first right symbol (0: none)
    for question in questions:
        gold, depth = set(question["gold"]), max(DEPTHS)
        ranked = {
            "keyword": opened.store.get(opened.store.keyword_search(question["q"], depth)),
            "dense": opened.store.get(
                [i for i, _ in opened.vectors.search(memory.embedder.embed([question["q"]])[0], depth)]
            ),
            "hybrid": [hit.memory for hit in memory.search(question["q"], space, depth)],
        }
        for method, chunks in ranked.items():
            ranks = [rank for rank, chunk in enumerate(chunks, start=1) if symbol_of(chunk) in gold]
            found[method].append(ranks[0] if ranks else 0)
    return {
        method: {f"recall@{k}": sum(0 < r <= k for r in ranks) / len(ranks) for k in DEPTHS}
        for method, ranks in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, help="time ingest and sync on this folder instead (no questions)")
    parser.add_argument("--files", type=int, help="with --repo: only its first N Python files, in path order")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "repo"
        source = args.repo or Path(click.__file__).parent
        if args.files:
            for file in sorted(source.rglob("*.py"))[: args.files]:
                (folder / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file, folder / file.relative_to(source))
        else:
            shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        memory = Memory(Path(scratch) / "data")
        memory.embedder.embed(["load the embedder before timing"])
        times = timings(memory, folder, "code")
        repository = f"{args.repo.name} ({args.files or 'all'} files)" if args.repo else None
        payload = {"repository": repository or f"click {importlib.metadata.version('click')}", "timings": times}
        if not args.repo:
            spec = __import__("json").loads(QUESTIONS.read_text())
            payload["questions"] = len(spec["questions"])
            payload["questions_for"] = f"click {spec['version']}"
            payload["recall"] = recall(memory, "code", spec["questions"])
    table = Table("measure", "value", title=f"code memory: {payload['repository']}")
    for name, value in times.items():
        table.add_row(name, f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
    console.print(table)
    if "recall" in payload:
        table = Table("search", *(f"recall@{k}" for k in DEPTHS), title=f"{payload['questions']} questions")
        for method, values in payload["recall"].items():
            table.add_row(method, *(f"{values[f'recall@{k}']:.2f}" for k in DEPTHS))
        console.print(table)
        save_bar_plot(
            "code_recall",
            {m: v["recall@5"] for m, v in payload["recall"].items()},
            ylabel="recall@5 of the right symbol",
            title=f"{payload['repository']}: 50 questions",
        )
    name = "code_recall" if not args.repo else f"code_sync_{args.repo.name}"
    console.print(f"wrote {write_result(name, payload)}")


if __name__ == "__main__":
    main()
