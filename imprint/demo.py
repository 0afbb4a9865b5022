"""The end-to-end demo `make demo` runs: ingest notes and a chat, search, answer from index and context.

Everything is real: a fresh SQLite store in ./demo-output, the packaged embedder and the packaged
Gemma 3 270M model (its first start dequantises it once, about a minute).
"""

import json
import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .memory import Memory

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
    with console.status("loading Gemma 3 270M (the first start dequantises it once)..."):
        memory.model.model  # noqa: B018 - load before timing the answers
    for question in QUESTIONS:
        for strategy in ("index", "context"):
            answer = memory.ask(question, space="demo", strategy=strategy, k=3)
            table.add_row(question, strategy, answer.text, str(answer.memory_ids), str(answer.prompt_tokens),
                          f"{answer.timings['total_s']:.2f}")
    console.print(table)
    memory.close()


if __name__ == "__main__":
    run()
