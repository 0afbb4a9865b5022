"""Commands that add, read, ask and forget: `imprint add | sync | search | ask | explain | list | show | history |
update | dropped | forget`. Each prints a table for people, or JSON with --json."""

import sys
import textwrap
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..answer import STRATEGIES
from ..encode.parse import text_item
from ..errors import InputError
from ..memory import Memory
from .base import (
    AsJson,
    DataDir,
    FilterOption,
    Space,
    TopK,
    app,
    console,
    count,
    err,
    filters_of,
    open_memory,
    print_json,
    print_rows,
    printable,
    reporting,
)


@app.command()
def add(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or folders (recursively); '-' reads one text from stdin. "
            "Conversations: .json/.jsonl. A changed file replaces its old memories."
        ),
    ],
    space: Space = "default",
    source: Annotated[str, typer.Option(help="With '-': where the text came from.")] = "stdin",
    metadata: Annotated[
        list[str] | None,
        typer.Option("--meta", "-m", help="With '-': KEY=VALUE kept on the memory (user_id=u1), for --filter."),
    ] = None,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Ingest files and folders (or text from stdin) into a space."""
    memory = open_memory(data)
    if paths == [Path("-")]:
        text = sys.stdin.read()
        if not text.strip():
            raise InputError("nothing to add: stdin was empty")
        report = memory.ingest([text_item(text, source, metadata=filters_of(metadata))], space)
    else:
        if metadata:
            raise InputError("--meta goes with '-' (text from stdin); files keep their own metadata")
        with reporting() as (_, progress):
            report = memory.add_paths(paths, space, lambda done, total: progress("ingesting items", done, total))
    if as_json:
        print_json({**asdict(report), "errors": [str(e) for e in report.errors]})
    else:
        print_errors(report.errors)
        console.print(
            f"{count(report.added, 'item')} added, {report.duplicates} already stored, "
            f"{count(report.indexed, 'new memory', 'new memories')}, "
            f"{count(report.updates, 'update')} of older ones, {report.dropped} kept raw only "
            f"(`imprint dropped`), {count(len(report.errors), 'file')} not read"
            f"{left_out(report.skipped)}.",
            markup=False,
        )
    if report.errors and not report.added and not report.duplicates:
        raise typer.Exit(1)


@app.command()
def sync(
    folder: Annotated[Path, typer.Argument(help="A folder, e.g. a repository (its .gitignore is honoured).")],
    space: Space = "default",
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Keep a space in step with a folder: new and changed files are read, unchanged ones skipped by
    content hash, deleted, renamed or now ignored ones forgotten (adapters that learned them too)."""
    memory = open_memory(data)
    with reporting() as (_, progress):
        report = memory.sync(folder, space, lambda done, total: progress("reading new and changed files", done, total))
    if as_json:
        print_json({**asdict(report), "errors": [str(e) for e in report.errors]})
        return
    print_errors(report.errors)
    console.print(printable(report.summary() + left_out(report.skipped, "; "), keep=""), markup=False)


def print_errors(errors: list) -> None:
    for error in errors:
        err.print(f"[yellow]not read[/yellow] {escape(printable(str(error), keep=''))}")


def left_out(skipped: list, lead: str = ", ") -> str:
    """What a folder walk left out, by reason, most common first ("" if nothing)."""
    if not skipped:
        return ""
    reasons = Counter(s.reason for s in skipped).most_common()
    shown = ", ".join(f"{n} {reason}" for reason, n in reasons[:6]) + (", ..." if len(reasons) > 6 else "")
    return f"{lead}left out {len(skipped)} ({shown})"


@app.command()
def search(
    query: str,
    space: Space = "default",
    k: TopK = 5,
    filters: FilterOption = None,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Hybrid search of a space's memories: keyword + dense (spread over the entity graph with IMPRINT_GRAPH)."""
    hits = open_memory(data).search(query, space, k, filters=filters_of(filters))
    if as_json:
        print_json([asdict(hit) | {"location": hit.memory.location} for hit in hits])
        return
    if any(hit.memory.location for hit in hits):  # code reads badly in a table: where it is, then a snippet
        for hit in hits:
            m = hit.memory
            console.print(
                f"[bold]{escape(printable(m.location or Path(m.source).name, keep=''))}[/bold]  [dim]memory {m.id}, "
                f"score {hit.score:.4f}[/dim]"
            )
            console.print(printable(snippet(m.text) if m.location else m.text), markup=False, highlight=False)
        return
    print_rows(
        ["id", "score", "bm25 #", "dense #", "graph #", "time", "memory", "source"],
        [
            [
                str(hit.memory.id),
                f"{hit.score:.4f}",
                str(hit.keyword_rank or "-"),
                str(hit.dense_rank or "-"),
                str(hit.graph_rank or "-"),
                hit.memory.time or "",
                hit.memory.text,
                Path(hit.memory.source).name,
            ]
            for hit in hits
        ],
        "memory",
        f"no memory in {space!r} matches {query!r}",
    )


def snippet(code: str, lines: int = 8) -> str:
    """The first lines of a memory of code, indented (its header line left out: the location says it)."""
    body = textwrap.dedent("\n".join(code.splitlines()[1:])).splitlines()
    return "\n".join("    " + line for line in body[:lines] + (["..."] if len(body) > lines else []))


@app.command()
def ask(
    question: str,
    space: Space = "default",
    strategy: Annotated[
        str, typer.Option(help=f"One of: {', '.join(STRATEGIES)} (auto: see `imprint explain`).")
    ] = "auto",
    k: TopK = 5,
    filters: FilterOption = None,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Answer a question from a space's memories with the local model."""
    with err.status("loading the model and answering..."):
        answer = open_memory(data).ask(question, space, strategy, k, filters_of(filters))
    if as_json:
        print_json(answer.to_dict())
        return
    console.print(answer.text, style="bold", markup=False)
    if answer.route:
        console.print(f"auto chose {answer.strategy}: {answer.route}", style="dim", markup=False)
    console.print(
        f"{answer.strategy}: {count(len(answer.memories), 'memory', 'memories')} {answer.memory_ids}, "
        f"{answer.prompt_tokens} prompt tokens, {answer.timings['total_s']:.2f} s",
        style="dim",
        markup=False,
    )


@app.command()
def explain(
    question: str,
    space: Space = "default",
    k: TopK = 5,
    filters: FilterOption = None,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Which tier `ask` (strategy auto) would answer from, why, and the memories behind it. No answer is generated."""
    route = open_memory(data).explain(question, space, k, filters_of(filters))
    if as_json:
        print_json(asdict(route))
        return
    console.print(f"[bold]{route.strategy}[/bold]: {escape(route.reason)}")
    print_rows(
        ["id", "in adapter", "memory", "source", "time"],
        [
            [str(m.id), "yes" if m.id in route.covered else "no", m.text, Path(m.source).name, m.time or ""]
            for m in route.memories
        ],
        "memory",
        "no memory matches the question",
    )


@app.command("list")
def list_memories(
    space: Space = "default",
    limit: int = 50,
    offset: int = 0,
    filters: FilterOption = None,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List a space's memories."""
    memory = open_memory(data)
    memories = memory.list_memories(space, limit, offset, filters_of(filters))
    if as_json:
        print_json([asdict(m) for m in memories])
        return
    shown = count(memory.count(space), "memory", "memories") + (f", {len(memories)} shown" if filters else "")
    print_rows(
        ["id", "time", "memory", "source"],
        [[str(m.id), m.time or "", m.text, Path(m.source).name] for m in memories],
        "memory",
        f"{space}: {shown}",
        f"{space}: {shown}",
    )


@app.command()
def show(memory_id: int, space: Space = "default", data: DataDir = None, as_json: AsJson = False) -> None:
    """One memory: where it came from, and each sentence with when it held (replaced ones too)."""
    memory = open_memory(data)
    m = memory.get(memory_id, space)
    validity = memory.validity(memory_id, space)
    if as_json:
        print_json({**asdict(m), "validity": [asdict(v) for v in validity]})
        return
    sources = printable(", ".join(Path(source).name for source in [m.source, *m.also_from]), keep="")
    console.print(
        f"memory {m.id} from {sources}; time {m.time or 'not given'}, added {m.added_at}, "
        f"used in {count(m.uses, 'answer')}" + (f"; {m.dropped}" if m.dropped else ""),
        markup=False,
    )
    print_rows(
        ["sentence", "valid from", "valid to", "replaced by", "says since"],
        [
            [
                v.sentence,
                v.valid_from or "",
                v.valid_to or ("" if v.replaced_by is None else "?"),
                "" if v.replaced_by is None else str(v.replaced_by),
                v.now or "",
            ]
            for v in validity
        ],
        "sentence",
        "no sentence of it has a validity recorded",
    )


@app.command()
def update(
    memory_id: int,
    text: Annotated[str, typer.Argument(help="The memory's new text ('-' reads it from stdin).")],
    space: Space = "default",
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Replace a memory's text: the old version leaves search and stays in `imprint history`."""
    new = open_memory(data).update(memory_id, sys.stdin.read() if text == "-" else text, space)
    if as_json:
        print_json({"replaced": memory_id, "memory_ids": new})
    elif new == [memory_id]:
        console.print(f"memory {memory_id} already says that: nothing changed", markup=False)
    else:
        console.print(f"memory {memory_id} replaced by {count(len(new), 'memory', 'memories')} {new}", markup=False)


@app.command()
def history(memory_id: int, space: Space = "default", data: DataDir = None, as_json: AsJson = False) -> None:
    """Every version of a memory, oldest first: what each said and what replaced it."""
    versions = open_memory(data).history(memory_id, space)
    if as_json:
        print_json([asdict(m) for m in versions])
        return
    print_rows(
        ["id", "added", "memory", "replaced by", "source"],
        [[str(m.id), m.added_at, m.text, str(m.replaced_by or ""), Path(m.source).name] for m in versions],
        "memory",
        f"memory {memory_id} has no versions",
    )


@app.command()
def dropped(
    space: Space = "default", limit: int = 50, offset: int = 0, data: DataDir = None, as_json: AsJson = False
) -> None:
    """What was kept raw but not indexed (greetings, filler, repeats, replaced versions), and why.
    IMPRINT_MIN_INFORMATION sets the bar."""
    memories = open_memory(data).dropped(space, limit, offset)
    if as_json:
        print_json([asdict(m) for m in memories])
        return
    print_rows(
        ["id", "text", "why", "source"],
        [[str(m.id), m.text, m.dropped, Path(m.source).name] for m in memories],
        "text",
        f"nothing in {space!r} was kept raw only",
    )


@app.command()
def forget(
    memory_id: Annotated[int | None, typer.Argument(help="The memory to delete.")] = None,
    space: Space = "default",
    source: Annotated[
        str | None,
        typer.Option(help="Delete everything from this source instead (a file's name as `list` prints it is enough)."),
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Delete the whole space, adapters included.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --all: do not ask first.")] = False,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="Postgres: VACUUM FULL the tables now, so the deleted rows "
            "leave the files (SQLite overwrites at once).",
        ),
    ] = False,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Delete a memory (or a source, or a whole space) from every tier: raw, chunks, vectors, adapters."""
    memory = open_memory(data)
    _forget(memory, memory_id, space, source, everything, yes, as_json)
    if vacuum:
        err.print(memory.vacuum(), markup=False)


def _forget(
    memory: Memory, memory_id: int | None, space: str, source: str | None, everything: bool, yes: bool, as_json: bool
) -> None:
    if [memory_id is not None, source is not None, everything].count(True) != 1:
        err.print("[red]error:[/red] give one of: a memory id, --source, --all")
        raise typer.Exit(2)
    if everything:
        if not yes:
            typer.confirm(
                f"Delete space {space!r} with all its memories and adapters? This cannot be undone",
                abort=True,
                err=True,
            )
        memory.forget_space(space)
        if as_json:
            print_json({"deleted_space": space})
        else:
            console.print(f"deleted space {space!r}: its store and all its adapters", markup=False)
        return
    done = memory.forget_source(source, space) if source is not None else memory.forget(memory_id, space)
    if as_json:
        print_json(asdict(done))
        return
    console.print(
        f"forgot {count(len(done.memory_ids), 'memory', 'memories')}"
        + (f" from {source}" if source else f" ({memory_id})"),
        markup=False,
    )
    if done.adapter_versions_removed:
        now = f"v{done.current_adapter}" if done.current_adapter else "none (run consolidate again)"
        console.print(f"deleted adapter versions {done.adapter_versions_removed} that had learned them; current: {now}")
    if done.weights_recall_before is not None:
        console.print(
            f"probe of the weights: recalled {done.weights_recall_before:.0%} of questions about it before, "
            f"{done.weights_recall_after:.0%} now"
        )
