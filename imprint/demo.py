"""The end-to-end demo `make demo` runs, in two parts.

1. Your kind of data: the notes and chat in examples/ are ingested, searched, and answered from index and context.
2. The three tiers side by side: a small made-up world is ingested, consolidated into an adapter,
   and every question is answered by none / context / index / weights / hybrid; the table is shown
   and the report and plots are written to demo-output/bench.

Everything is real: fresh SQLite stores in ./demo-output, the packaged embedder and the packaged
Gemma 3 270M model (its first start dequantises it once, about a minute). A few minutes in all.
"""

import shutil
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.progress import Progress
from rich.table import Table

from .bench.report import markdown, write_report
from .bench.runner import STRATEGIES, run_bench
from .bench.world import world
from .errors import InputError
from .memory import Memory
from .weights.plan import TrainConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"  # notes and a chat, as the README's Quickstart uses
QUESTIONS = [
    "Which city did Mira Quenton move to?",
    "What is the name of Ana's cat?",
    "Who leads the robotics team at Norrsken Labs?",
    "What does Jonas Berg sell the most?",
]


def run(output: Path = Path("demo-output")) -> None:
    console = Console()
    if not EXAMPLES.is_dir():
        raise InputError(f"the demo reads {EXAMPLES}, which a clone of the repository has: run `make demo` there")
    shutil.rmtree(output, ignore_errors=True)
    memory = Memory(output / "data")
    report = memory.add_paths([EXAMPLES / "notes", EXAMPLES / "chat.json"], space="demo")
    console.print(
        f"[bold]ingested[/bold] {report.added} files into {len(report.memories)} memories "
        f"({output / 'data' / 'demo.sqlite'})"
    )

    hits = memory.search("where did Mira move", space="demo", k=3)
    table = Table("id", "score", "memory", title="search: where did Mira move")
    for hit in hits:
        table.add_row(str(hit.memory.id), f"{hit.score:.4f}", hit.memory.text[:90])
    console.print(table)

    table = Table(
        "question",
        "strategy",
        "answer",
        "memories",
        "prompt tokens",
        "seconds",
        title="ask: index (top 3) vs context (everything that fits)",
    )
    with console.status("loading Gemma 3 270M..."):
        memory.answerer.generate("Hello", 1)  # load before timing the answers
    for question in QUESTIONS:
        for strategy in ("index", "context"):
            answer = memory.ask(question, space="demo", strategy=strategy, k=3)
            table.add_row(
                question,
                strategy,
                answer.text,
                str(answer.memory_ids),
                str(answer.prompt_tokens),
                f"{answer.timings['total_s']:.2f}",
            )
    console.print(table)
    tiers(memory, output / "bench", console)
    memory.close()


def tiers(memory: Memory, folder: Path, console: Console, facts: int = 16, questions: int = 12) -> None:
    """Part 2: one small world, every strategy, the same questions."""
    console.rule(f"[bold]the tiers side by side: a made-up world of {facts} facts")
    data = world(facts, seed=0)
    with Progress(console=console) as progress:
        task = progress.add_task("consolidating (training the adapter)", total=None)

        def answered(strategy: str, done: int, total: int) -> None:
            progress.update(task, description=f"answering: {strategy}", completed=done, total=total)

        result = run_bench(
            memory,
            data,
            list(STRATEGIES),
            limit=questions,
            train=TrainConfig(epochs=4),
            progress=answered,
            log=lambda line: progress.console.print(f"[dim]{line}[/dim]"),
        )
    console.print(Markdown(markdown(result)))
    paths = write_report(result, folder)
    console.print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    run()
