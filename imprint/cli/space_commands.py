"""Commands that look after whole spaces: `imprint check | reindex | spaces | migrate`."""

from dataclasses import asdict
from typing import Annotated

import typer

from .base import (
    AsJson,
    DataDir,
    Space,
    app,
    console,
    err,
    open_memory,
    print_json,
    reporting,
)


@app.command()
def check(
    space: Space = "default",
    repair: Annotated[bool, typer.Option("--repair", help="Move rows that fail into the quarantine table.")] = False,
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Verify a space: SQLite's integrity check, then every stored row read back (sealed ones authenticated)."""
    report = open_memory(data).check(space, repair)
    if as_json:
        print_json(asdict(report))
    else:
        console.print(
            f"{space}: integrity {report.integrity}, {report.rows_checked} rows read, {len(report.damaged)} damaged",
            markup=False,
        )
        for damage in report.damaged:
            console.print(f"  {damage.table} row {damage.row_id}: {damage.reason}", markup=False)
        if repair:
            console.print(
                f"quarantined {report.quarantined} rows (kept, bytes intact, in the space's quarantine table)"
            )
    if report.integrity != "ok" or (report.damaged and not repair):
        raise typer.Exit(1)


@app.command()
def reindex(space: Space = "default", data: DataDir = None, as_json: AsJson = False) -> None:
    """Embed a space's memories again with the configured embedder (IMPRINT_EMBEDDER or the profile's).
    Stopped, it resumes where it was; searches use the old vectors until the new ones are all in."""
    memory = open_memory(data)
    with reporting() as (_, progress):
        report = memory.reindex(
            space, lambda done, total: progress(f"embedding {space} with {memory.embedder.name}", done, total)
        )
    if as_json:
        print_json(asdict(report))
    elif not report.switched:
        console.print(
            f"{space}: nothing to do, its {report.memories:,} vectors come from {report.embedder}", markup=False
        )
    else:
        console.print(
            f"{space}: {report.memories:,} memories embedded with {report.embedder} (were {report.before}), "
            f"{report.embedded:,} in this run, {report.seconds:.1f} s",
            markup=False,
        )


@app.command()
def spaces(data: DataDir = None, as_json: AsJson = False) -> None:
    """List the spaces in the data folder."""
    names = open_memory(data).spaces()
    if as_json:
        print_json(names)
        return
    for name in names:
        console.print(name, markup=False)


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="The Postgres database: postgresql://user@host/database.")],
    data: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Copy every space of the data folder into a Postgres database: memories, raw items, vectors, graph,
    history, filters and encryption as they are, ids included. Then set IMPRINT_STORE to the URL; adapters
    stay in the data folder."""
    from ..config import Settings
    from ..store.crypto import load_master_key
    from ..store.migrate import migrate_to_postgres
    from ..store.sqlite import SqliteFiles

    settings = Settings(store=to, **({"data_dir": data} if data else {}))
    key = load_master_key(
        settings.key_file, settings.key.get_secret_value() if settings.key else None, settings.data_dir
    )
    moved = migrate_to_postgres(
        SqliteFiles(settings.data_dir), key, settings.store, lambda name: err.print(f"copying {name}", markup=False)
    )
    if as_json:
        print_json([asdict(m) for m in moved])
        return
    for m in moved:
        console.print(
            f"{m.space}: " + (f"skipped, {m.skipped}" if m.skipped else f"{m.memories:,} memories"), markup=False
        )
