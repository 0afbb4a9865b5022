"""Commands for the weights tier and its measurement: `imprint consolidate | worker | jobs | adapters | bench`."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.markup import escape

from ..errors import InputError
from ..memory import Memory
from ..weights.plan import ConsolidateOptions
from .base import (
    AsJson,
    Commands,
    DataDir,
    Space,
    app,
    console,
    err,
    open_memory,
    print_json,
    print_rows,
    reporting,
)


@app.command()
def consolidate(
    space: Space = "default",
    epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs; training stops early once the probe is learned.")
    ] = ConsolidateOptions.epochs,
    replay: Annotated[
        int, typer.Option(min=0, help="Times the base model's own control answers are replayed per epoch (0: none).")
    ] = ConsolidateOptions.replay,
    min_recall: Annotated[
        float, typer.Option(help="Gate: probe recall needed to promote.")
    ] = ConsolidateOptions.min_recall,
    min_retention: Annotated[
        float,
        typer.Option(
            help="Gate: control retention needed to promote; an adapter short of it is shrunk toward the base "
            "while its probe passes."
        ),
    ] = ConsolidateOptions.min_retention,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="'local', a .gguf file or an OpenAI-compatible URL that writes extra QA pairs, or 'off' "
            "(default: IMPRINT_TEACHER, else the profile's: quality 'local', small off).",
        ),
    ] = None,
    stable_days: Annotated[
        float | None,
        typer.Option(min=0, help="Policy: only memories unchanged for this many days (default: IMPRINT_STABLE_DAYS)."),
    ] = None,
    min_uses: Annotated[
        int | None,
        typer.Option(min=0, help="Policy: only memories used in this many answers (default: IMPRINT_MIN_USES)."),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Train every memory from the base; by default a space with an adapter trains only its new "
            "memories, on top of it.",
        ),
    ] = False,
    queue: Annotated[
        bool,
        typer.Option("--queue", help="Postgres store: queue the job for `imprint worker` instead of training here."),
    ] = False,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Train the space's stable memories into a new adapter; it replaces the current one only if it passes the gate."""
    options = ConsolidateOptions(epochs, replay, min_recall, min_retention, teacher, stable_days, min_uses, full)
    if queue:
        from ..jobs import open_queue

        memory = open_memory(data)
        memory.count(space)  # an unknown space fails here, not in a worker
        job = open_queue(memory).consolidate(space, asdict(options)).id
        if as_json:
            print_json({"job": job, "status": "queued"})
        else:
            console.print(f"queued job {job}: imprint jobs show {job}", markup=False)
        return
    with reporting() as (log, progress):
        report = open_memory(data).consolidate(space, log=log, progress=progress, **options.arguments())
    if as_json:
        print_json(report.to_dict())
        return
    colour = "green" if report.promoted else "yellow"
    console.print(
        f"[{colour}]v{report.version}: {escape(report.reason)}[/{colour}] (probe recall {report.probe_recall:.0%}, "
        f"retention {report.retention:.0%}, {report.train_seconds:.0f} s, {report.adapter_bytes / 1e6:.1f} MB)"
    )
    if report.from_version is not None:
        console.print(
            f"  {report.memories} new memories on top of v{report.from_version}: earlier probe recall "
            f"{report.earlier_recall_before:.0%} -> {report.earlier_recall:.0%}"
        )
    if report.scale < 1:
        console.print(f"  shrunk toward the base to {report.scale:g} of what it learned, to keep what the model knew")
    for lost in report.forgotten[:3]:  # what "retention" means, in the model's own words
        console.print(f"  forgot: {lost['question']} {lost['base']!r} -> {lost['adapter']!r}", markup=False)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Stop when the queue is empty.")] = False,
    name: Annotated[str | None, typer.Option(help="The worker's name in the queue (default: host-worker).")] = None,
    heartbeat: Annotated[float, typer.Option(min=0.5, help="Seconds between heartbeats.")] = 10.0,
    stalled_after: Annotated[
        float,
        typer.Option(min=1, help="Seconds without a heartbeat after which a worker's job is put back in the queue."),
    ] = 30.0,
    data: DataDir = None,
) -> None:
    """Run queued consolidations (Postgres store); start as many as you like, on any machine."""
    from ..jobs import open_queue

    memory = open_memory(data)
    queue = open_queue(memory)
    err.print(f"imprint worker: consolidations from {memory.settings.store.split('@')[-1]}", markup=False)
    try:
        queue.work(memory, name, once, heartbeat, stalled_after)
    finally:
        queue.close()


jobs_app = typer.Typer(help="Queued consolidation jobs (Postgres store).", cls=Commands)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("show")
def show_job(job: str, data: DataDir = None, as_json: AsJson = False) -> None:
    """A job's status, progress lines and result."""
    from ..jobs import open_queue

    print_queued(open_queue(open_memory(data)).get(job), as_json)


@jobs_app.command("cancel")
def cancel_job(job: str, data: DataDir = None, as_json: AsJson = False) -> None:
    """Cancel a queued job, or stop a running one at its next progress line (the current adapter stays)."""
    from ..jobs import open_queue

    print_queued(open_queue(open_memory(data)).cancel(job), as_json)


def print_queued(job, as_json: bool) -> None:
    if as_json:
        print_json(asdict(job))
        return
    console.print(f"job {job.id} ({job.space}): {job.status}, attempt {max(job.attempts, 1)}", markup=False)
    for line in job.log[-10:]:
        console.print(f"  {line}", markup=False)
    if job.error:
        console.print(f"error: {job.error}", markup=False)


adapters_app = typer.Typer(help="A space's adapter versions.", cls=Commands)
app.add_typer(adapters_app, name="adapters")


@adapters_app.callback(invoke_without_command=True)
def adapters(ctx: typer.Context, space: Space = "default", data: DataDir = None, as_json: AsJson = False) -> None:
    """List adapter versions: facts covered, probe recall, retention, size, date, and whether a memory
    it learned has been replaced since (stale)."""
    if ctx.invoked_subcommand is not None:
        return
    memory = open_memory(data)
    current = memory.adapters(space).current()
    versions = memory.adapter_versions(space)
    if as_json:
        print_json({"current": current.version if current else None, "versions": [asdict(v) for v in versions]})
        return
    print_rows(
        [
            "version",
            "current",
            "memories",
            "probe recall",
            "retention",
            "train s",
            "size MB",
            "created",
            "verdict",
            "stale",
        ],
        [
            [
                f"v{v.version}",
                "*" if current and current.version == v.version else "",
                str(len(v.memory_ids)),
                f"{v.metrics['probe_recall']:.0%}",
                f"{v.metrics['retention']:.0%}",
                f"{v.metrics['train_seconds']:.0f}",
                f"{v.bytes / 1e6:.1f}",
                v.created_at,
                v.reason,
                "yes" if v.stale else "",
            ]
            for v in versions
        ],
        "verdict",
        f"no adapter in {space!r} yet: imprint consolidate --space {space}",
    )


@adapters_app.command()
def rollback(
    to: Annotated[int, typer.Option("--to", help="The version to make current again.")],
    space: Space = "default",
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Make an earlier promoted version current again."""
    manifest = open_memory(data).adapters(space).rollback(to)
    if as_json:
        print_json({"current": manifest.version})
        return
    console.print(f"{space}: v{manifest.version} is current")


@adapters_app.command()
def export(
    target: Annotated[
        Path, typer.Argument(help="A new or empty folder for adapter_config.json and adapter_model.safetensors.")
    ],
    version: Annotated[int | None, typer.Option(help="The version to export (default: the current one).")] = None,
    space: Space = "default",
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Write a version as plain PEFT files, for vLLM (--enable-lora), PEFT and other servers of the base model."""
    registry = open_memory(data).adapters(space)
    folder = registry.export(version, target)
    if as_json:
        print_json({"exported": str(folder), "encrypted_space": registry.cipher is not None})
        return
    console.print(f"{space}: adapter written to {folder} (PEFT)", markup=False)
    if registry.cipher is not None:
        err.print("note: the exported weights are not encrypted; they hold what the space's memories say", markup=False)


@app.command()
def bench(
    dataset: Annotated[str, typer.Option(help="world | locomo | squad | hotpotqa | counterfact")] = "world",
    size: Annotated[int, typer.Option(min=1, help="world: number of facts")] = 200,
    path: Annotated[Path | None, typer.Option(help="the dataset file (not for world)")] = None,
    corpus: Annotated[Path | None, typer.Option(help="hotpotqa: the corpus file")] = None,
    strategies: Annotated[
        str, typer.Option(help="comma-separated: none,context,index,weights,hybrid")
    ] = "none,index,weights,hybrid",
    limit: Annotated[int | None, typer.Option(min=1, help="ask a seeded sample of N questions")] = None,
    scaling: Annotated[str | None, typer.Option(help="'context': latency and accuracy as knowledge grows")] = None,
    sizes: Annotated[str, typer.Option(help="scaling: world sizes in facts")] = "25,50,100,200,400",
    epochs: Annotated[int, typer.Option(min=1, help="consolidation epochs (weights, hybrid)")] = 6,
    fresh: Annotated[
        float, typer.Option(help="share of the documents added after consolidation (newer memories)")
    ] = 0.0,
    seed: int = 0,
    out: Annotated[Path, typer.Option(help="folder for report.json, report.md and the plots")] = Path("bench-output"),
    as_json: AsJson = False,
) -> None:
    """Context, index and weights side by side on the same knowledge: table, report files, plots."""
    import tempfile

    from ..bench.report import markdown, write_report
    from ..bench.runner import dataset_named, run_bench
    from ..bench.scaling import run_scaling, write_scaling
    from ..weights.plan import TrainConfig

    chosen = [s.strip() for s in strategies.split(",") if s.strip()]
    train = TrainConfig(epochs=epochs, seed=seed)
    with tempfile.TemporaryDirectory() as scratch, reporting() as (log, stages):
        memory = Memory(scratch)

        def progress(strategy: str, done: int, total: int) -> None:
            stages(f"answering: {strategy}", done, total)

        if scaling:
            if scaling != "context":
                raise InputError(f"--scaling takes 'context', not {scaling!r}")
            points = run_scaling(
                memory, [int(n) for n in sizes.split(",")], chosen, limit or 5, seed, train, progress, log
            )
            files = write_scaling(points, chosen, out)
            table = Markdown((out / "scaling.md").read_text())
        else:
            data = dataset_named(dataset, size, path, corpus, seed)
            result = run_bench(memory, data, chosen, limit, train, progress, log, seed, fresh)
            files = write_report(result, out)
            table = Markdown(markdown(result))
        memory.close()
    if as_json:
        report = next(f for f in files if str(f).endswith(".json"))
        print_json({"files": [str(f) for f in files], "report": json.loads(Path(report).read_text())})
        return
    console.print(table)
    console.print("wrote " + ", ".join(str(f) for f in files))
