"""The `imprint` command line: typer for arguments, rich for progress and tables.

Library errors (ImprintError) are turned into a red message and exit code 1 here, and only here.
"""

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from .answer import STRATEGIES
from .config import VERSION
from .encode.parse import text_item
from .errors import ImprintError, InputError
from .memory import Memory

_opened: list[Memory] = []  # what the running command opened


class _Commands(TyperGroup):
    """Runs a command: library errors (ImprintError) become one red line and exit code 1, here and
    only here, and every Memory the command opened is closed when it ends."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except ImprintError as error:
            err.print(f"[red]error:[/red] {escape(str(error))}")
            raise typer.Exit(1) from None
        finally:
            while _opened:
                _opened.pop().close()


app = typer.Typer(help="Long-term memory for language models.", no_args_is_help=True, cls=_Commands)
console = Console()
err = Console(stderr=True, soft_wrap=True)

Space = Annotated[str, typer.Option("--space", "-s", help="Which space (user, project) to use.")]
TopK = Annotated[int, typer.Option("--k", "-k", min=1, help="How many memories to retrieve.")]
DataDir = Annotated[Optional[Path], typer.Option("--data", help="Data folder (default: IMPRINT_DATA_DIR or ./imprint-data).")]


def _memory(data: Path | None) -> Memory:
    """The command's Memory, closed when the command ends."""
    _opened.append(Memory(data))
    return _opened[-1]


def _plain(*cells: str) -> list[Text]:
    """Table cells shown literally: stored text is never rich markup ("[b]", "[/quote]", a resolved date)."""
    return [Text(cell) for cell in cells]


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _show_version(shown: bool) -> None:
    if shown:
        console.print(f"imprint {VERSION}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the model libraries' progress bars and logs.")] = False,
) -> None:
    """Long-term memory for language models."""
    if not verbose:
        from transformers.utils import logging as hf_logging

        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        hf_logging.disable_progress_bar()  # "Loading weights" bars of every model load
        hf_logging.set_verbosity_error()


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursively); '-' reads one text from stdin. "
                                                     "Conversations: .json/.jsonl.")],
    space: Space = "default",
    source: Annotated[str, typer.Option(help="With '-': where the text came from.")] = "stdin",
    data: DataDir = None,
) -> None:
    """Ingest files and folders (or text from stdin) into a space."""
    memory = _memory(data)
    if paths == [Path("-")]:
        text = sys.stdin.read()
        if not text.strip():
            raise InputError("nothing to add: stdin was empty")
        report = memory.ingest([text_item(text, source)], space)
        console.print(f"{_count(report.indexed, 'new memory', 'new memories')}"
                      f"{', already stored' if report.duplicates else ''}.", markup=False)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as progress:
        task = progress.add_task("ingesting items", total=None)
        report = memory.add_paths(paths, space, lambda done, total: progress.update(task, completed=done, total=total))
    for error in report.errors:
        err.print(f"[yellow]skipped[/yellow] {escape(str(error))}")
    console.print(f"{_count(report.added, 'item')} added, {report.duplicates} already stored, "
                  f"{_count(report.indexed, 'new memory', 'new memories')}, {report.dropped} kept raw only "
                  f"(`imprint dropped`), {_count(len(report.errors), 'file')} skipped.", markup=False)
    if report.errors and not report.added and not report.duplicates:
        raise typer.Exit(1)


@app.command()
def search(query: str, space: Space = "default", k: TopK = 5, data: DataDir = None) -> None:
    """Hybrid search of a space's memories: keyword + dense (spread over the entity graph with IMPRINT_GRAPH)."""
    hits = _memory(data).search(query, space, k)
    table = Table("id", "score", "bm25 #", "dense #", "graph #", "time", "memory", "source")
    for hit in hits:
        m = hit.memory
        table.add_row(*_plain(str(m.id), f"{hit.score:.4f}", str(hit.keyword_rank or "-"), str(hit.dense_rank or "-"),
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
        answer = _memory(data).ask(question, space, strategy, k)
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
    route = _memory(data).explain(question, space, k)
    console.print(f"[bold]{route.strategy}[/bold]: {escape(route.reason)}")
    table = Table("id", "in adapter", "memory", "source", "time")
    for m in route.memories:
        table.add_row(*_plain(str(m.id), "yes" if m.id in route.covered else "no", m.text, Path(m.source).name, m.time or ""))
    console.print(table)


@app.command("list")
def list_memories(space: Space = "default", limit: int = 50, offset: int = 0, data: DataDir = None) -> None:
    """List a space's memories."""
    memory = _memory(data)
    table = Table("id", "time", "memory", "source", title=f"{space}: {_count(memory.count(space), 'memory', 'memories')}")
    for m in memory.list_memories(space, limit, offset):
        table.add_row(*_plain(str(m.id), m.time or "", m.text, Path(m.source).name))
    console.print(table)


@app.command()
def show(memory_id: int, space: Space = "default", data: DataDir = None) -> None:
    """One memory: where it came from, and each sentence with when it held (replaced ones too)."""
    memory = _memory(data)
    m = memory.get(memory_id, space)
    sources = ", ".join(Path(source).name for source in [m.source, *m.also_from])
    console.print(f"[bold]memory {m.id}[/bold] from {escape(sources)}; time {escape(m.time or 'not given')}, added {m.added_at}, "
                  f"used in {m.uses} answers")
    table = Table("sentence", "valid from", "valid to", "replaced by", "says since")
    for v in memory.validity(memory_id, space):
        table.add_row(*_plain(v.sentence, v.valid_from or "", v.valid_to or ("" if v.replaced_by is None else "?"),
                      "" if v.replaced_by is None else str(v.replaced_by), v.now or ""))
    console.print(table)


@app.command()
def dropped(space: Space = "default", limit: int = 50, offset: int = 0, data: DataDir = None) -> None:
    """What was kept raw but not indexed (greetings, filler, repeats), and why. IMPRINT_MIN_INFORMATION sets the bar."""
    table = Table("id", "text", "why", "source")
    for m in _memory(data).dropped(space, limit, offset):
        table.add_row(*_plain(str(m.id), m.text, m.dropped, Path(m.source).name))
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
    memory = _memory(data)
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
    console.print(f"forgot {_count(len(done.memory_ids), 'memory', 'memories')}" + (f" from {source}" if source else f" ({memory_id})"),
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
    report = _memory(data).check(space, repair)
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
    for name in _memory(data).spaces():
        console.print(name, markup=False)


@app.command()
def consolidate(
    space: Space = "default",
    epochs: Annotated[int, typer.Option(min=1, help="Most epochs; training stops early once the probe is learned.")] = 6,
    replay: Annotated[int, typer.Option(min=0, help="Times the base model's own control answers are replayed per epoch (0: none).")] = 1,
    min_recall: Annotated[float, typer.Option(help="Gate: probe recall needed to promote.")] = 0.8,
    min_retention: Annotated[float, typer.Option(help="Gate: control retention needed to promote.")] = 0.9,
    teacher: Annotated[Optional[str], typer.Option(help="'local' or an OpenAI-compatible URL that writes extra QA pairs (default: IMPRINT_TEACHER).")] = None,
    stable_days: Annotated[Optional[float], typer.Option(min=0, help="Policy: only memories unchanged for this many days (default: IMPRINT_STABLE_DAYS).")] = None,
    min_uses: Annotated[Optional[int], typer.Option(min=0, help="Policy: only memories used in this many answers (default: IMPRINT_MIN_USES).")] = None,
    data: DataDir = None,
) -> None:
    """Train the space's stable memories into a new adapter; it replaces the current one only if it passes the gate."""
    from .weights.consolidate import training_plan

    config, gate = training_plan(epochs, min_recall, min_retention)
    report = _memory(data).consolidate(
        space, config, gate, replay_repeats=replay,
        log=lambda line: err.print(f"[dim]{escape(line)}[/dim]"), teacher=teacher, stable_days=stable_days, min_uses=min_uses)
    colour = "green" if report.promoted else "yellow"
    console.print(f"[{colour}]v{report.version}: {escape(report.reason)}[/{colour}] (probe recall {report.probe_recall:.0%}, "
                  f"retention {report.retention:.0%}, {report.train_seconds:.0f} s, {report.adapter_bytes / 1e6:.1f} MB)")


adapters_app = typer.Typer(help="A space's adapter versions.", cls=_Commands)
app.add_typer(adapters_app, name="adapters")


@adapters_app.callback(invoke_without_command=True)
def adapters(ctx: typer.Context, space: Space = "default", data: DataDir = None) -> None:
    """List adapter versions: facts covered, probe recall, retention, size, date."""
    if ctx.invoked_subcommand is not None:
        return
    registry = _memory(data).adapters(space)
    current = registry.current()
    table = Table("version", "current", "memories", "probe recall", "retention", "train s", "size MB", "created", "verdict")
    for m in registry.versions():
        size = registry.size_bytes(m.version) / 1e6
        table.add_row(*_plain(f"v{m.version}", "*" if current and current.version == m.version else "", str(len(m.memory_ids)),
                      f"{m.metrics['probe_recall']:.0%}", f"{m.metrics['retention']:.0%}",
                      f"{m.metrics['train_seconds']:.0f}", f"{size:.1f}", m.created_at, m.reason))
    console.print(table)


@adapters_app.command()
def rollback(
    to: Annotated[int, typer.Option("--to", help="The version to make current again.")],
    space: Space = "default",
    data: DataDir = None,
) -> None:
    """Make an earlier promoted version current again."""
    manifest = _memory(data).adapters(space).rollback(to)
    console.print(f"{space}: v{manifest.version} is current")


@app.command()
def bench(
    dataset: Annotated[str, typer.Option(help="world | locomo | squad | hotpotqa | counterfact")] = "world",
    size: Annotated[int, typer.Option(min=1, help="world: number of facts")] = 200,
    path: Annotated[Optional[Path], typer.Option(help="the dataset file (not for world)")] = None,
    corpus: Annotated[Optional[Path], typer.Option(help="hotpotqa: the corpus file")] = None,
    strategies: Annotated[str, typer.Option(help="comma-separated: none,context,index,weights,hybrid")] = "none,index,weights,hybrid",
    limit: Annotated[Optional[int], typer.Option(min=1, help="ask a seeded sample of N questions")] = None,
    scaling: Annotated[Optional[str], typer.Option(help="'context': latency and accuracy as knowledge grows")] = None,
    sizes: Annotated[str, typer.Option(help="scaling: world sizes in facts")] = "25,50,100,200,400",
    epochs: Annotated[int, typer.Option(min=1, help="consolidation epochs (weights, hybrid)")] = 6,
    fresh: Annotated[float, typer.Option(help="share of the documents added after consolidation (newer memories)")] = 0.0,
    seed: int = 0,
    out: Annotated[Path, typer.Option(help="folder for report.json, report.md and the plots")] = Path("bench-output"),
) -> None:
    """Context, index and weights side by side on the same knowledge: table, report files, plots."""
    import tempfile

    from .bench.report import markdown, write_report
    from .bench.runner import dataset_named, run_bench
    from .bench.scaling import run_scaling, write_scaling
    from .weights.train import TrainConfig

    chosen = [s.strip() for s in strategies.split(",") if s.strip()]
    train = TrainConfig(epochs=epochs, seed=seed)
    with tempfile.TemporaryDirectory() as scratch, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err) as bar:
        memory = Memory(scratch)
        task = bar.add_task("starting", total=None)

        def progress(strategy: str, done: int, total: int) -> None:
            bar.update(task, description=f"answering: {strategy}", completed=done, total=total)

        def log(line: str) -> None:
            bar.console.print(f"[dim]{escape(line)}[/dim]")

        if scaling:
            if scaling != "context":
                raise InputError(f"--scaling takes 'context', not {scaling!r}")
            points = run_scaling(memory, [int(n) for n in sizes.split(",")], chosen, limit or 5, seed, train,
                                 progress, log)
            files = write_scaling(points, chosen, out)
            console.print(Markdown((out / "scaling.md").read_text()))
        else:
            data = dataset_named(dataset, size, path, corpus, seed)
            result = run_bench(memory, data, chosen, limit, train, progress, log, seed, fresh)
            files = write_report(result, out)
            console.print(Markdown(markdown(result)))
        memory.close()
    console.print("wrote " + ", ".join(str(f) for f in files))


KeysFile = Annotated[Optional[Path], typer.Option(
    "--keys", envvar="IMPRINT_KEYS_FILE", help='JSON {"keys": {"KEY": ["space", "team-*"]}}; none: open, loopback only.')]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8420,
    keys: KeysFile = None,
    data: DataDir = None,
) -> None:
    """Serve REST (/spaces, docs at /docs), OpenAI-compatible chat (/v1) and MCP (/mcp) over HTTP."""
    import uvicorn

    from .errors import InputError
    from .serve.app import create_app
    from .serve.auth import Keys

    if keys is None and host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(f"refusing to serve on {host} without API keys: pass --keys FILE (or IMPRINT_KEYS_FILE)")
    api = create_app(_memory(data), Keys.load(keys) if keys else None, host)
    err.print(f"imprint on http://{host}:{port}  (docs /docs, OpenAI /v1, MCP /mcp)")
    # SIGTERM: stop taking requests, give running ones 5 s, then exit
    uvicorn.run(api, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


@app.command()
def mcp(space: Space = "default", data: DataDir = None) -> None:
    """MCP over stdio, for desktop and coding agents (tools: remember, recall, ask, forget)."""
    from .serve.auth import Keys
    from .serve.mcp_tools import build_mcp

    build_mcp(_memory(data), Keys.open(), default_space=space).run("stdio")


@app.command()
def keygen(path: Annotated[Path, typer.Argument(help="Where to write the key; keep it outside the data folder.")]) -> None:
    """Write a new random master key (readable by you only). Set IMPRINT_KEY_FILE to it to encrypt new spaces."""
    from .store.crypto import new_master_key

    try:
        with open(path, "x", opener=lambda p, flags: os.open(p, flags, 0o600)) as out:
            out.write(new_master_key() + "\n")
    except FileExistsError:
        raise ImprintError(f"{path} exists: imprint never overwrites a key (data sealed with it would be lost)") from None
    console.print(f"wrote {path}; back it up: without it encrypted spaces cannot be read")


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """What a bug report needs: versions, CPU flags, the engine in use and why, models, data folder, encryption."""
    from .config import Settings
    from .doctor import report

    facts = report(Settings())
    if as_json:
        console.print_json(json.dumps(facts))
        return
    width = max(map(len, facts))
    for name, value in facts.items():  # plain lines: pasted whole into a bug report
        console.print(f"{name:<{width}}  {value}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def demo(output: Path = Path("demo-output")) -> None:
    """Run the end-to-end demo on the packaged models."""
    from .demo import run

    run(output)


if __name__ == "__main__":
    app()
