"""Is `auto` ever worse than `index`? Both (and context) on the made-up world set and on a small
space of notes and a chat (benchmarks/data/notes_and_chat: 25 questions written before any answer
was read: single facts, lists, dates, updates said in a chat, and questions the space cannot answer).

    python benchmarks/router.py [--size 60] [--strategies index,context,auto]
    IMPRINT_PROFILE=quality python benchmarks/router.py

Prints accuracy (the gold answer in the answer; "unknown" for questions the space cannot answer) and
token F1 per set and strategy, and writes benchmarks/results/router_<profile>.json. The notes and
chat are a new user's space: nothing consolidated. On the world set auto has an adapter to route to
(it is consolidated first, as `imprint bench` does: minutes); `--no-world` runs the notes and chat only.
"""

import argparse
import json
import tempfile
from pathlib import Path

from common import ROOT, write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory, Settings
from imprint.bench.datasets import SPACE, Dataset, Question
from imprint.bench.runner import BenchResult, asked_row, run_bench
from imprint.bench.world import world
from imprint.encode.parse import conversation_item, text_item

DATA = ROOT / "benchmarks" / "data" / "notes_and_chat"
console = Console()


def notes_and_chat() -> Dataset:
    notes = (DATA / "notes.md").read_text()
    items = [text_item(notes, "notes.md"), conversation_item(json.loads((DATA / "chat.json").read_text()), "chat")]
    questions = [
        Question(q["question"], q["answer"], q["kind"]) for q in json.loads((DATA / "questions.json").read_text())
    ]
    return Dataset("notes-and-chat", {SPACE: items}, questions)


def unconsolidated(memory: Memory, dataset: Dataset, strategies: list[str]) -> BenchResult:
    """Every question with every strategy on a space that has no adapter yet."""
    for space, items in dataset.spaces.items():
        memory.ingest(items, space)
    result = BenchResult(dataset.name, dataset.documents, 0)
    for strategy in strategies:
        for question in dataset.questions:
            result.rows.append(asked_row(memory, question, strategy))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=60, help="world facts")
    parser.add_argument("--strategies", default="index,context,auto")
    parser.add_argument("--no-world", action="store_true")
    args = parser.parse_args()
    strategies = args.strategies.split(",")
    sets = [notes_and_chat()] + ([] if args.no_world else [world(args.size, seed=0)])
    results, profile = {}, Settings().profile
    for dataset in sets:
        with tempfile.TemporaryDirectory() as folder, Memory(settings=Settings(data_dir=Path(folder))) as memory:
            if dataset.name == "notes-and-chat":
                done = unconsolidated(memory, dataset, strategies)
            else:
                done = run_bench(memory, dataset, strategies, log=lambda line: console.print(line, markup=False))
            results[dataset.name] = {"summary": done.summary(), "rows": [vars(row) for row in done.rows]}
    table = Table(title=f"auto vs index, {profile} profile")
    for column in ("set", "strategy", "questions", "accuracy", "F1", "auto answered from"):
        table.add_column(column)
    for name, result in results.items():
        for strategy, s in result["summary"].items():
            routes = ", ".join(f"{k} {v}" for k, v in sorted(s["answered_by"].items())) if strategy == "auto" else ""
            table.add_row(name, strategy, str(s["questions"]), f"{s['accuracy']:.0%}", f"{s['f1']:.2f}", routes)
    console.print(table)
    console.print(f"wrote {write_result(f'router_{profile}', {'strategies': strategies, 'sets': results})}")


if __name__ == "__main__":
    main()
