"""Activation memory: what a kept context state saves. On the made-up world set at ~8.9k tokens of
knowledge (550 facts, as the context-scaling run), the context tier answers with the state computed
from scratch for every question, from a state kept in the process, and from the state file (a new
process: loaded from disk), beside index; then 10 memories are added and the next answer computes
only them and the question.

    python benchmarks/activations.py [--facts 550] [--questions 10] [--uncached 3]

Prints a table, writes benchmarks/results/activations.json and activations.png. The uncached
answers are minutes each here, so only the first `--uncached` questions are asked that way; their
answers are compared word for word with the kept-state ones.
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from common import RESULTS, write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory, Settings
from imprint.bench.runner import judge
from imprint.bench.world import world

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=550)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--uncached", type=int, default=3)
    args = parser.parse_args()

    dataset = world(args.facts)
    pool = [q for q in dataset.questions if q.category == "single-hop"]
    questions = random.Random(0).sample(pool, min(args.questions, len(pool)))
    with tempfile.TemporaryDirectory() as folder:
        memory = Memory(settings=Settings(data_dir=Path(folder)))
        for space, items in dataset.spaces.items():
            memory.ingest(items, space)
        space = next(iter(dataset.spaces))
        reader = memory.models.reader
        llm = reader._llm  # the live llama.cpp context: reset to stand for a new process

        def ask(question, strategy: str = "context") -> dict:
            began = time.perf_counter()
            reply = memory.ask(question.text, space, strategy)
            seconds = time.perf_counter() - began
            return {
                "question": question.text,
                "gold": question.answer,
                "said": reply.said,
                "correct": judge(reply.text, question.answer, question.category)[0],
                "seconds": seconds,
                "prompt_tokens": reply.prompt_tokens,
                "computed_tokens": reply.prompt_tokens - reply.cached_tokens,
            }

        console.print(f"{memory.count(space)} memories; first context answer (cold: computes the whole prompt)")
        cold = ask(questions[0])
        kept = memory.space(space).activations
        state_bytes = kept.size_bytes()
        [state_file] = kept.files()
        console.print(f"cold {cold['seconds']:.1f} s, {cold['prompt_tokens']:,} prompt tokens; state {state_bytes:,} B")

        live = [ask(q) for q in questions]  # the state stays in the process
        from_disk = []
        for question in questions:
            llm.reset()
            from_disk.append(ask(question))
        load_s = _time_load(state_file)
        index = [ask(q, "index") for q in questions]

        memory.settings = memory.settings.model_copy(update={"activation_bytes": 0})
        uncached = []
        for number, question in enumerate(questions[: args.uncached], 1):
            llm.reset()
            console.print(f"uncached {number}/{args.uncached} (the whole prompt, minutes)")
            uncached.append(ask(question))
        memory.settings = memory.settings.model_copy(update={"activation_bytes": Settings().activation_bytes})

        added = [  # ten new facts about ten new people (none updates another: that would drop the kept state)
            f"{first} {last} collects {thing}."
            for first, last, thing in zip(
                ("Ilse", "Baro", "Quenna", "Tavi", "Oriel", "Mads", "Sunniva", "Dario", "Yelka", "Fenn"),
                ("Varnot", "Kestrel", "Dufrain", "Olmquist", "Pardue", "Hollen", "Ruskin", "Velasco", "Tamm", "Orsby"),
                (
                    "old maps",
                    "seashells",
                    "stamps",
                    "vinyl records",
                    "fountain pens",
                    "postcards",
                    "teapots",
                    "coins",
                    "keys",
                    "clocks",
                ),
            )
        ]
        for text in added:
            memory.add(text, space)
        added_tokens = sum(reader.count_tokens(text) for text in added)
        after_add = ask(questions[1])

    tokens = cold["prompt_tokens"]
    same = sum(a["said"] == b["said"] for a, b in zip(uncached, live))
    rows = {
        "uncached (computed per question)": uncached,
        "kept, in the process": live,
        "kept, loaded from disk": from_disk,
        "index": index,
    }
    summary = {name: _summary(answers) for name, answers in rows.items()}
    result = {
        "facts": args.facts,
        "prompt_tokens": tokens,
        "cold_first_answer_s": cold["seconds"],
        "state_bytes": state_bytes,
        "kv_bytes_per_token": state_bytes / max(1, tokens),
        "state_load_s": load_s,
        "uncached_answers_identical_to_kept": f"{same}/{len(uncached)}",
        "after_adding_10": {
            "computed_tokens": after_add["computed_tokens"],
            "prompt_tokens": after_add["prompt_tokens"],
            "seconds": after_add["seconds"],
            "added_tokens": added_tokens,
        },
        "summary": summary,
        "answers": rows,
    }
    path = write_result("activations", result)
    _table(summary, result)
    _plot(summary)
    console.print(f"wrote {path}")


def _summary(answers: list[dict]) -> dict:
    return {
        "questions": len(answers),
        "accuracy": sum(a["correct"] for a in answers) / max(1, len(answers)),
        "p50_s": statistics.median(a["seconds"] for a in answers) if answers else None,
        "computed_tokens_p50": statistics.median(a["computed_tokens"] for a in answers) if answers else None,
    }


def _time_load(state_file: Path) -> float:
    """Seconds to read a state file (what a cold process pays before llama.cpp takes the bytes)."""
    began = time.perf_counter()
    state_file.read_bytes()
    return time.perf_counter() - began


def _table(summary: dict, result: dict) -> None:
    table = Table(title=f"context tier at {result['prompt_tokens']:,} prompt tokens")
    for column in ("answered from", "questions", "accuracy", "p50 s", "tokens computed (p50)"):
        table.add_column(column)
    for name, row in summary.items():
        table.add_row(
            name,
            str(row["questions"]),
            f"{row['accuracy']:.0%}",
            f"{row['p50_s']:.2f}" if row["p50_s"] is not None else "-",
            f"{row['computed_tokens_p50']:,.0f}" if row["computed_tokens_p50"] is not None else "-",
        )
    console.print(table)
    console.print(
        f"cold first answer {result['cold_first_answer_s']:.1f} s; state {result['state_bytes']:,} B "
        f"({result['kv_bytes_per_token']:,.0f} B/token), read in {result['state_load_s']:.2f} s; "
        f"uncached answers identical to kept: {result['uncached_answers_identical_to_kept']}; after adding 10 "
        f"memories the next answer computed {result['after_adding_10']['computed_tokens']:,} of "
        f"{result['after_adding_10']['prompt_tokens']:,} tokens"
    )


def _plot(summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name, row in summary.items() if row["p50_s"] is not None]
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.barh(names, [summary[n]["p50_s"] for n in names], color="#4c72b0")
    axes.set_xscale("log")
    axes.set_xlabel("p50 seconds per answer (log)")
    axes.set_title("Context tier with and without a kept state")
    figure.tight_layout()
    figure.savefig(RESULTS / "activations.png", dpi=120)


if __name__ == "__main__":
    main()
