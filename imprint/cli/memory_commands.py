"""Commands that add, read, ask and forget: `imprint add | search | ask | explain | list | show | dropped |
forget | check | spaces`."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..answer import STRATEGIES
from ..encode.parse import text_item
from ..errors import InputError
from .base import (
    DataDir,
    Space,
    TopK,
    app,
    console,
    count,
    err,
    open_memory,
    plain,
    progress_bar,
)


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursively); '-' reads one text from stdin. "
                                                     "Conversations: .json/.jsonl.")],
    space: Space = "default",
    source: Annotated[str, typer.Option(help="With '-': where the text came from.")] = "stdin",
    data: DataDir = None,
) -> None:
    """Ingest files and folders (or text from stdin) into a space."""
    memory = open_memory(data)
    if paths == [Path("-")]:
        text = sys.stdin.read()
        if not text.strip():
            raise InputError("nothing to add: stdin was empty")
        report = memory.ingest([text_item(text, source)], space)
        console.print(f"{count(report.indexed, 'new memory', 'new memories')}"
                      f"{', already stored' if report.duplicates else ''}.", markup=False)
        return
    with progress_bar() as progress:
        task = progress.add_task("ingesting items", total=None)
        report = memory.add_paths(paths, space, lambda done, total: progress.update(task, completed=done, total=total))
    for error in report.errors:
        err.print(f"[yellow]skipped[/yellow] {escape(str(error))}")
    console.print(f"{count(report.added, 'item')} added, {report.duplicates} already stored, "
                  f"{count(report.indexed, 'new memory', 'new memories')}, {report.dropped} kept raw only "
                  f"(`imprint dropped`), {count(len(report.errors), 'file')} skipped.", markup=False)
    if report.errors and not report.added and not report.duplicates:
        raise typer.Exit(1)


@app.command()
def search(query: str, space: Space = "default", k: TopK = 5, data: DataDir = None) -> None:
    """Hybrid search of a space's memories: keyword + dense (spread over the entity graph with IMPRINT_GRAPH)."""
    hits = open_memory(data).search(query, space, k)
    table = Table("id", "score", "bm25 #", "dense #", "graph #", "time", "memory", "source")
    for hit in hits:
        m = hit.memory
        table.add_row(*plain(str(m.id), f"{hit.score:.4f}", str(hit.keyword_rank or "-"), str(hit.dense_rank or "-"),
                      str(hit.graph_rank or "-"), m.time or "", m.text, Path(m.source).name))
    console.print(table)


@app.command()
def ask(
    question: str,
    space: Space = "default",
    strategy: Annotated[str, typer.Option(help=f"One of: {', '.join(STRATEGIES)} (auto: see `imprint explain`).")] = "auto",
    k: TopK = 5,
    data: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question from a space's memories with the local model."""
    with err.status("loading the model and answering..."):
        answer = open_memory(data).ask(question, space, strategy, k)
    if as_json:
        console.print_json(json.dumps(answer.to_dict()))
        return
    console.print(f"[bold]{escape(answer.text)}[/bold]")
    if answer.route:
        console.print(f"[dim]auto chose {answer.strategy}: {escape(answer.route)}[/dim]")
    console.print(f"[dim]{answer.strategy}: {len(answer.memories)} memories {answer.memory_ids}, "
                  f"{answer.prompt_tokens} prompt tokens, {answer.timings['total_s']:.2f} s[/dim]")


@app.command()
def explain(question: str, space: Space = "default", k: TopK = 5, data: DataDir = None) -> None:
    """Which tier `ask` (strategy auto) would answer from, why, and the memories behind it. No answer is generated."""
    route = open_memory(data).explain(question, space, k)
    console.print(f"[bold]{route.strategy}[/bold]: {escape(route.reason)}")
    table = Table("id", "in adapter", "memory", "source", "time")
    for m in route.memories:
        table.add_row(*plain(str(m.id), "yes" if m.id in route.covered else "no", m.text, Path(m.source).name, m.time or ""))
    console.print(table)


@app.command("list")
def list_memories(space: Space = "default", limit: int = 50, offset: int = 0, data: DataDir = None) -> None:
    """List a space's memories."""
    memory = open_memory(data)
    table = Table("id", "time", "memory", "source", title=f"{space}: {count(memory.count(space), 'memory', 'memories')}")
    for m in memory.list_memories(space, limit, offset):
        table.add_row(*plain(str(m.id), m.time or "", m.text, Path(m.source).name))
    console.print(table)


@app.command()
def show(memory_id: int, space: Space = "default", data: DataDir = None) -> None:
    """One memory: where it came from, and each sentence with when it held (replaced ones too)."""
    memory = open_memory(data)
    m = memory.get(memory_id, space)
    sources = ", ".join(Path(source).name for source in [m.source, *m.also_from])
    console.print(f"[bold]memory {m.id}[/bold] from {escape(sources)}; time {escape(m.time or 'not given')}, added {m.added_at}, "
                  f"used in {m.uses} answers")
    table = Table("sentence", "valid from", "valid to", "replaced by", "says since")
    for v in memory.validity(memory_id, space):
        table.add_row(*plain(v.sentence, v.valid_from or "", v.valid_to or ("" if v.replaced_by is None else "?"),
                      "" if v.replaced_by is None else str(v.replaced_by), v.now or ""))
    console.print(table)


@app.command()
def dropped(space: Space = "default", limit: int = 50, offset: int = 0, data: DataDir = None) -> None:
    """What was kept raw but not indexed (greetings, filler, repeats), and why. IMPRINT_MIN_INFORMATION sets the bar."""
    table = Table("id", "text", "why", "source")
    for m in open_memory(data).dropped(space, limit, offset):
        table.add_row(*plain(str(m.id), m.text, m.dropped, Path(m.source).name))
    console.print(table)


@app.command()
def forget(
    memory_id: Annotated[Optional[int], typer.Argument(help="The memory to delete.")] = None,
    space: Space = "default",
    source: Annotated[Optional[str], typer.Option(help="Delete everything from this source instead.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Delete the whole space, adapters included.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --all: do not ask first.")] = False,
    data: DataDir = None,
) -> None:
    """Delete a memory (or a source, or a whole space) from every tier: raw, chunks, vectors, adapters."""
    memory = open_memory(data)
    if [memory_id is not None, source is not None, everything].count(True) != 1:
        err.print("[red]error:[/red] give one of: a memory id, --source, --all")
        raise typer.Exit(2)
    if everything:
        if not yes:
            typer.confirm(f"Delete space {space!r} with all its memories and adapters? This cannot be undone",
                          abort=True, err=True)
        memory.forget_space(space)
        console.print(f"deleted space {space!r}: its store and all its adapters")
        return
    done = memory.forget_source(source, space) if source is not None else memory.forget(memory_id, space)
    console.print(f"forgot {count(len(done.memory_ids), 'memory', 'memories')}" + (f" from {source}" if source else f" ({memory_id})"),
                  markup=False)
    if done.adapter_versions_removed:
        now = f"v{done.current_adapter}" if done.current_adapter else "none (run consolidate again)"
        console.print(f"deleted adapter versions {done.adapter_versions_removed} that had learned them; current: {now}")
    if done.weights_recall_before is not None:
        console.print(f"probe of the weights: recalled {done.weights_recall_before:.0%} of questions about it before, "
                      f"{done.weights_recall_after:.0%} now")


@app.command()
def check(
    space: Space = "default",
    repair: Annotated[bool, typer.Option("--repair", help="Move rows that fail into the quarantine table.")] = False,
    data: DataDir = None,
) -> None:
    """Verify a space: SQLite's integrity check, then every stored row read back (sealed ones authenticated)."""
    report = open_memory(data).check(space, repair)
    console.print(f"{space}: integrity {report.integrity}, {report.rows_checked} rows read, "
                  f"{len(report.damaged)} damaged", markup=False)
    for damage in report.damaged:
        console.print(f"  {damage.table} row {damage.row_id}: {damage.reason}", markup=False)
    if repair:
        console.print(f"quarantined {report.quarantined} rows (kept, bytes intact, in the space's quarantine table)")
    if report.integrity != "ok" or (report.damaged and not repair):
        raise typer.Exit(1)


@app.command()
def spaces(data: DataDir = None) -> None:
    """List the spaces in the data folder."""
    for name in open_memory(data).spaces():
        console.print(name, markup=False)
