"""Updates said the way people say them: after "X moved to B" (or "now works at", "sold the car",
"is no longer", "changed her name to"), does a question about now get the new value?

    python benchmarks/updates.py [--strategy index] [--rules]

`--rules`: only the rules, on 40 everyday updates (first person in chats, pronouns, first names)
and 12 look-alikes written apart from them (tests/data/everyday_updates.json): how many each records.

Thirty hand-written pairs (benchmarks/data/natural_updates.json): an older memory (2020) and a
newer one (2025) about the same person, and a question about now. Each pair goes into its own
space. Asked with supersession off (`IMPRINT_SUPERSEDE=false`: the reader sees both memories as
they are) and on (the replaced sentence shows what it says now). Scored: the answer names the new
value and not the old one. Also counted: pairs where the rules recorded a replacement at all.
"""

import argparse
import json
import tempfile
from pathlib import Path

from common import ROOT, write_result
from rich.console import Console
from rich.progress import track
from rich.table import Table

from imprint import Memory
from imprint.bench.metrics import normalise

PAIRS = ROOT / "benchmarks" / "data" / "natural_updates.json"
EVERYDAY = ROOT / "tests" / "data" / "everyday_updates.json"


def rule_counts(console: Console) -> dict:
    """How many of the everyday updates the rules record, and how many look-alikes they wrongly do."""
    from imprint.text.supersede import replaced

    data = json.loads(EVERYDAY.read_text())
    counts = {
        kind: sum(bool(replaced(p["newer"], p["older"], p["newer_speaker"], p["older_speaker"])) for p in pairs)
        for kind, pairs in data.items()
    }
    table = Table("pairs", "recorded", "of")
    for kind, pairs in data.items():
        table.add_row(kind.replace("_", " "), str(counts[kind]), str(len(pairs)))
    console.print(table)
    return {kind: {"recorded": counts[kind], "of": len(pairs)} for kind, pairs in data.items()}


def says(answer: str, value: str) -> bool:
    return f" {normalise(value)} " in f" {normalise(answer)} "


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="index")
    parser.add_argument("--rules", action="store_true", help="only count what the rules record (no model)")
    args = parser.parse_args()
    pairs = json.loads(PAIRS.read_text())
    console = Console()
    rules = rule_counts(console)
    if args.rules:
        console.print(
            f"wrote {write_result('updates_rules', {'command': 'python benchmarks/updates.py --rules', **rules})}"
        )
        return
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        memory = Memory(Path(folder))
        for number, pair in enumerate(pairs):
            space = f"pair{number}"
            memory.add(pair["old"], space=space, time="2020-03-01")
            memory.add(pair["new"], space=space, time="2025-03-01")
        for supersede in (False, True):
            memory.settings = memory.settings.model_copy(update={"supersede": supersede})
            answers = [
                memory.ask(pair["question"], f"pair{n}", args.strategy).text
                for n, pair in track(list(enumerate(pairs)), description=f"supersede={supersede}", console=console)
            ]
            rows[f"supersede {'on' if supersede else 'off'}"] = [
                {
                    "question": p["question"],
                    "answer": a,
                    "now": p["now"],
                    "right": says(a, p["now"]) and not says(a, p["before"]),
                }
                for p, a in zip(pairs, answers)
            ]
        detected = sum(
            bool(memory.space(f"pair{n}").store.replaced_sentences([m.id for m in memory.list_memories(f"pair{n}")]))
            for n in range(len(pairs))
        )
        memory.close()
    table = Table("setting", "right", "of", "accuracy")
    summary = {}
    for name, scored in rows.items():
        right = sum(r["right"] for r in scored)
        summary[name] = right / len(scored)
        table.add_row(name, str(right), str(len(scored)), f"{right / len(scored):.0%}")
    console.print(table)
    console.print(f"replacements recorded by the rules: {detected} of {len(pairs)} pairs")
    path = write_result(
        "updates",
        {
            "strategy": args.strategy,
            "pairs": len(pairs),
            "accuracy": summary,
            "rules": rules,
            "replacements_recorded": detected,
            "answers": rows,
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
