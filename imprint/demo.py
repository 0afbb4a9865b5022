"""The end-to-end demo `make demo` runs, in two parts.

1. Your kind of data: notes and a chat are ingested, searched, and answered from index and context.
2. The three tiers side by side: a small made-up world is ingested, consolidated into an adapter,
   and every question is answered by none / context / index / weights / hybrid; the table is shown
   and the report and plots are written to demo-output/bench.

Everything is real: fresh SQLite stores in ./demo-output, the packaged embedder and the packaged
Gemma 3 270M model (its first start dequantises it once, about a minute). A few minutes in all.
"""

import json
import shutil
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.progress import Progress
from rich.table import Table

from .bench.report import markdown, write_report
from .bench.runner import STRATEGIES, run_bench
from .bench.world import world
from .memory import Memory
from .weights.plan import TrainConfig

NOTES = {
    "mira.md": "# Mira Quenton\n\nMira Quenton grew up in Porto. She moved to Tallinn in 2021 to work as "
               "a marine biologist at the Baltic Sea Institute.\n",
    "jonas.txt": "Jonas Berg runs a small bakery in Riga. His best seller is a dark rye bread with caraway.\n",
    "team.html": "<html><body><h1>Team</h1><p>Leila Haddad leads the robotics team at Norrsken Labs."
                 "</p><script>tracking()</script></body></html>",
}
CHAT = [
    {"speaker": "Ana", "text": "Guess what, I adopted a cat yesterday!", "time": "2023-05-01"},
    {"speaker": "Ben", "text": "No way! What did you call her?", "time": "2023-05-01"},
    {"speaker": "Ana", "text": "Her name is Pixel, she is grey with white paws.", "time": "2023-05-01"},
]
QUESTIONS = [
    "Which city did Mira Quenton move to?",
    "What is the name of Ana's cat?",
    "Who leads the robotics team at Norrsken Labs?",
    "What does Jonas Berg sell the most?",
]


def run(output: Path = Path("demo-output")) -> None:
    console = Console()
    shutil.rmtree(output, ignore_errors=True)
    notes = output / "notes"
    notes.mkdir(parents=True)
    for name, text in NOTES.items():
        (notes / name).write_text(text)
    (notes / "chat.json").write_text(json.dumps(CHAT, indent=1))

    memory = Memory(output / "data")
    report = memory.add_paths([notes], space="demo")
    console.print(f"[bold]ingested[/bold] {report.added} files into {len(report.memories)} memories "
                  f"({output / 'data' / 'demo.sqlite'})")

    hits = memory.search("where did Mira move", space="demo", k=3)
    table = Table("id", "score", "memory", title="search: where did Mira move")
    for hit in hits:
        table.add_row(str(hit.memory.id), f"{hit.score:.4f}", hit.memory.text[:90])
    console.print(table)

    table = Table("question", "strategy", "answer", "memories", "prompt tokens", "seconds",
                  title="ask: index (top 3) vs context (everything that fits)")
    with console.status("loading Gemma 3 270M..."):
        memory.answerer.generate("Hello", 1)  # load before timing the answers
    for question in QUESTIONS:
        for strategy in ("index", "context"):
            answer = memory.ask(question, space="demo", strategy=strategy, k=3)
            table.add_row(question, strategy, answer.text, str(answer.memory_ids), str(answer.prompt_tokens),
                          f"{answer.timings['total_s']:.2f}")
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

        result = run_bench(memory, data, list(STRATEGIES), limit=questions, train=TrainConfig(epochs=4),
                           progress=answered, log=lambda line: progress.console.print(f"[dim]{line}[/dim]"))
    console.print(Markdown(markdown(result)))
    paths = write_report(result, folder)
    console.print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    run()
