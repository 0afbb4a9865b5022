"""Temporal updates: after "X moved from A to B", do answers give the current home?

    python benchmarks/temporal.py [--facts 200] [--strategies index,context]

Every temporal question of the generated world ("Where does X live now?", the person's first
home superseded by a later move) is asked with supersession off (`IMPRINT_SUPERSEDE=false`:
the reader sees both statements) and on (the replaced sentence shows what it says now), and
with the subject focus off and on (`IMPRINT_FOCUS`: memories not about the question's names
leave the prompt), same store.
"""

import argparse
import tempfile

from common import write_result
from rich.console import Console
from rich.progress import track
from rich.table import Table

from imprint import Memory
from imprint.bench.runner import judge
from imprint.bench.world import world


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
        replaced = sum(len(v) for space in data.spaces for v in memory._space(space)[0].replaced_sentences(
            [m.id for m in memory.list_memories(space, limit=memory.count(space))]).values())
        for strategy in args.strategies.split(","):
            for supersede, focus in ((False, False), (True, False), (False, True), (True, True)):
                memory.settings = memory.settings.model_copy(update={"supersede": supersede, "focus": focus})
                name = (f"{strategy} (k={args.k}), supersession {'on' if supersede else 'off'}, "
                        f"focus {'on' if focus else 'off'}")
                correct = 0
                for question in track(questions, description=name, console=console):
                    answer = memory.ask(question.text, question.space, strategy, args.k)
                    correct += judge(answer.text, question.answer, question.category)[0]
                rows[name] = correct / len(questions)
        memory.close()
    table = Table("strategy", "current value given", title=f"World ({args.facts} facts): {len(questions)} temporal "
                                                           f"questions, {replaced} sentences replaced at ingest")
    for name, accuracy in rows.items():
        table.add_row(name, f"{accuracy:.0%}")
    console.print(table)
    console.print(f"wrote {write_result('temporal', {'facts': args.facts, 'questions': len(questions), 'replaced': replaced, 'accuracy': rows})}")


if __name__ == "__main__":
    main()
