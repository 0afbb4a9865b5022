"""Temporal updates: after "X moved from A to B", do answers give the current home, and the old
one when the question names a year before the move?

    python benchmarks/temporal.py [--facts 200] [--strategies index,context]

Every temporal question of the generated world ("Where does X live now?", the person's first
home superseded by a later move) is asked with supersession off (`IMPRINT_SUPERSEDE=false`:
the reader sees both statements) and on (the replaced sentence shows what it says now), and
with the subject focus off and on (`IMPRINT_FOCUS`: memories not about the question's names
leave the prompt), same store. Then, defaults on, "Where did X live in <the year before the
move>?" for every mover: with the memories as they were that year (the default), and with the
day the question names ignored (so the reader sees them as of now), to show what the dated view does.
"""

import argparse
import re
import tempfile

from common import write_result
from rich.console import Console
from rich.progress import track
from rich.table import Table

import imprint.answer.asof
from imprint import Memory
from imprint.bench.runner import judge
from imprint.bench.world import world

_MOVE = re.compile(r"^In (?P<year>\d{4}), (?P<person>.+?) moved from (?P<old>.+?) to (?P<new>.+?)\.$")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=200)
    parser.add_argument("--strategies", default="index")
    parser.add_argument("--k", type=int, default=5, help="memories retrieved by index")
    args = parser.parse_args()
    console = Console()
    data = world(args.facts, seed=0)
    questions = [q for q in data.questions if q.category == "temporal"]
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        memory = Memory(folder)
        for space, items in data.spaces.items():
            memory.ingest(items, space)
        replaced = sum(
            len(v)
            for space in data.spaces
            for v in memory.space(space)
            .store.replaced_sentences([m.id for m in memory.list_memories(space, limit=memory.count(space))])
            .values()
        )
        for strategy in args.strategies.split(","):
            for supersede, focus in ((False, False), (True, False), (False, True), (True, True)):
                memory.settings = memory.settings.model_copy(update={"supersede": supersede, "focus": focus})
                name = (
                    f"{strategy} (k={args.k}), supersession {'on' if supersede else 'off'}, "
                    f"focus {'on' if focus else 'off'}"
                )
                correct = 0
                for question in track(questions, description=name, console=console):
                    answer = memory.ask(question.text, question.space, strategy, args.k)
                    correct += judge(answer.text, question.answer, question.category)[0]
                rows[name] = correct / len(questions)
        memory.settings = memory.settings.model_copy(update={"supersede": True, "focus": True})
        moves = [match for items in data.spaces.values() for item in items if (match := _MOVE.match(item.content))]
        dated = [(f"Where did {m['person']} live in {int(m['year']) - 1}?", m["old"], m["new"]) for m in moves]
        reads_the_day, strategy = imprint.answer.asof.named_day, args.strategies.split(",")[0]
        for name, day_reader in (
            (f"{strategy}, dated question, as of that year (default)", reads_the_day),
            ("same, the day the question names ignored", lambda _: None),
        ):
            imprint.answer.asof.named_day = day_reader
            right = newer = 0
            for text, old, new in track(dated, description=name, console=console):
                answer = memory.ask(text, next(iter(data.spaces)), strategy, args.k).text
                right += judge(answer, old, "temporal")[0]
                newer += judge(answer, new, "temporal")[0]
            rows[name] = right / len(dated)
            rows[name + ": answered the later home"] = newer / len(dated)
        imprint.answer.asof.named_day = reads_the_day
        memory.close()
    table = Table(
        "strategy",
        "right value given",
        title=f"World ({args.facts} facts): {len(questions)} temporal "
        f"questions, {replaced} sentences replaced at ingest",
    )
    for name, accuracy in rows.items():
        table.add_row(name, f"{accuracy:.0%}")
    console.print(table)
    result = {"facts": args.facts, "questions": len(questions), "replaced": replaced, "accuracy": rows}
    console.print(f"wrote {write_result('temporal', result)}")


if __name__ == "__main__":
    main()
