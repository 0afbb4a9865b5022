"""Incremental consolidation: a space of consolidated made-up facts receives a few new ones.

    python benchmarks/incremental.py [--facts 200] [--new 10] [--epochs 6] [--seed 0]

The first `--facts` facts are consolidated from the base (`imprint consolidate --full`); then
`--new` facts are added and the space is consolidated again as `imprint consolidate` does by default
(only the new memories, trained on top of the adapter, with rows it learned before replayed). After
each: recall of the facts' natural questions from the adapter alone (no memories in the prompt, the
answer contains the gold), the old facts and the new ones apart; the gate's retention (control
answers); the retention of 192 general questions nothing trains on; and the seconds consolidation
took. Prints a table and writes benchmarks/results/incremental.json.
"""

import argparse
import tempfile
import time

from common import write_result
from rich.console import Console
from rich.table import Table
from weights import base_knows, general_retention, score

from imprint import Memory
from imprint.bench import datasets
from imprint.weights.plan import Gate, TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=200, help="facts consolidated first")
    parser.add_argument("--new", type=int, default=10, help="facts added after, consolidated on top")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    world = datasets.fictional(args.facts + args.new, args.seed)
    [(space, items)] = world.spaces.items()
    first, later = items[: args.facts], items[args.facts :]
    new_facts = {item.content for item in later}
    old = datasets.Dataset("old", {}, [q for q in world.questions if q.evidence not in new_facts])
    new = datasets.Dataset("new", {}, [q for q in world.questions if q.evidence in new_facts])
    rows = []
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        known = base_knows(memory.answerer)
        memory.ingest(first, space)
        for step, full in (("first", True), ("update", False)):
            if step == "update":
                memory.ingest(later, space)
            started = time.perf_counter()
            report = memory.consolidate(
                space, TrainConfig(epochs=args.epochs, seed=args.seed), Gate(0, 0, 0), full=full, log=console.print
            )
            seconds = time.perf_counter() - started
            adapter = memory.adapters(space).readable(report.version)
            recall = {
                name: score(memory.answerer, asked, adapter, f"{step}: {name} facts", {})[0]["natural"]["contains"]
                for name, asked in (("old", old), ("new", new))
                if asked.questions and (step == "update" or name == "old")
            }
            general = general_retention(memory.answerer, adapter, known)
            rows.append(
                {
                    "step": step,
                    "memories trained": report.memories,
                    "from version": report.from_version,
                    "seconds": seconds,
                    "train seconds": report.train_seconds,
                    "epochs": report.epochs_run,
                    "old facts recall": recall["old"],
                    "new facts recall": recall.get("new"),
                    "probe recall": report.probe_recall,
                    "earlier probe recall before / after": [report.earlier_recall_before, report.earlier_recall],
                    "retention (control)": report.retention,
                    "retention (192 general)": general["retention"],
                }
            )
    table = Table(*rows[0], title=f"{args.facts} facts consolidated, then {args.new} added")
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    console.print(table)
    write_result("incremental", {"facts": args.facts, "new": args.new, "epochs": args.epochs, "rows": rows})


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if value > 1 else f"{value:.0%}"
    if isinstance(value, list):
        return " / ".join("-" if v is None else f"{v:.0%}" for v in value)
    return "-" if value is None else str(value)


if __name__ == "__main__":
    main()
