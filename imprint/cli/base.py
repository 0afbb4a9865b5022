"""What every `imprint` command shares: the app, its consoles and options, error translation.

Library errors (ImprintError) are turned into a red message and exit code 1 here, and only here.
"""

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from ..config import VERSION
from ..errors import ImprintError, InputError
from ..memory import Memory
from ..progress import Progress as StageProgress
from ..progress import ProgressLines

opened: list[Memory] = []  # what the running command opened


class Commands(TyperGroup):
    """Runs a command: library errors (ImprintError) become one red line and exit code 1, here and
    only here, and every Memory the command opened is closed when it ends."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except ImprintError as error:
            err.print(f"[red]error:[/red] {escape(str(error))}")
            raise typer.Exit(1) from None
        finally:
            while opened:
                opened.pop().close()


app = typer.Typer(help="Long-term memory for language models.", no_args_is_help=True, cls=Commands)
console = Console()
err = Console(stderr=True, soft_wrap=True)

Space = Annotated[str, typer.Option("--space", "-s", help="Which space (user, project) to use.")]
TopK = Annotated[int, typer.Option("--k", "-k", min=1, help="How many memories to retrieve.")]
DataDir = Annotated[
    Path | None, typer.Option("--data", help="Data folder (default: IMPRINT_DATA_DIR or ./imprint-data).")
]


AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts and agents).")]
FilterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        "-f",
        help="KEY=VALUE: only memories whose metadata KEY is VALUE (repeat a key for any of several); "
        "also source=, speaker=, since=, until= (ISO dates).",
    ),
]


def filters_of(pairs: list[str] | None) -> dict | None:
    """--filter user_id=u1 --filter topic=a --filter topic=b -> {"user_id": "u1", "topic": ["a", "b"]}."""
    if not pairs:
        return None
    filters: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--filter takes KEY=VALUE, not {pair!r}")
        if key in filters:
            filters[key] = [*(filters[key] if isinstance(filters[key], list) else [filters[key]]), value]
        else:
            filters[key] = value
    return filters


def print_json(data: object) -> None:
    """JSON on stdout, exactly (never through rich markup)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def open_memory(data: Path | None) -> Memory:
    """The command's Memory, closed when the command ends."""
    opened.append(Memory(data))
    return opened[-1]


def printable(text: str, keep: str = "\n\t") -> str:
    """`text` with control characters (but `keep`) written as escapes: a file named with an ESC
    sequence must not move the cursor or recolour the terminal of whoever lists it."""
    return "".join(c if c.isprintable() or c in keep else c.encode("unicode_escape").decode() for c in text)


def plain(*cells: str) -> list[Text]:
    """Table cells shown literally: stored text is never rich markup ("[b]", "[/quote]", a resolved date)
    nor terminal control sequences."""
    return [Text(printable(cell)) for cell in cells]


WIDE = 100  # narrower terminals get rows as lists: a table wrapped memory text to ~9 characters a line at 80


def print_rows(headers: list[str], rows: list[list[str]], text: str, empty: str, title: str | None = None) -> None:
    """Rows as a table on a wide terminal; on a narrow one each row as its short fields on a line and
    its `text` column below, indented and readable. No rows: `empty` says so. Cells are shown literally."""
    if not rows:
        console.print(empty, markup=False)
        return
    if console.width >= WIDE:
        table = Table(*headers, title=title)
        for row in rows:
            table.add_row(*plain(*row))
        console.print(table)
        return
    if title:
        console.print(title, style="bold", markup=False)
    at = headers.index(text)
    for row in rows:
        console.print(
            printable(
                "  ".join(f"{header} {cell}" for header, cell in zip(headers, row) if header != text and cell), keep=""
            ),
            style="dim",
            markup=False,
            highlight=False,
        )
        console.print(Padding(Text(printable(row[at])), (0, 0, 0, 2)))


def progress_bar() -> Progress:
    """The one progress display of long commands (add, bench), on stderr so stdout stays the result."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


@contextmanager
def reporting() -> Iterator[tuple[Callable[[str], None], StageProgress]]:
    """(log, progress) of a long command, on stderr: on a terminal a bar per stage with the log's
    lines above the bars; elsewhere (CI logs, `> log`, a service) plain lines, a stage's progress
    at least every 15 s (imprint.progress)."""
    if not err.is_terminal:

        def log(line: str) -> None:
            err.print(line, markup=False, highlight=False)

        yield log, ProgressLines(log)
        return
    tasks: dict[str, TaskID] = {}
    with progress_bar() as bar:

        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield (lambda line: bar.console.print(f"[dim]{escape(line)}[/dim]")), update


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _show_version(shown: bool) -> None:
    if shown:
        console.print(f"imprint {VERSION}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the model libraries' progress bars and logs.")
    ] = False,
) -> None:
    """Long-term memory for language models."""
    if not verbose:  # read by the libraries when they are imported, so none is imported here
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # also transformers' "Loading weights" bars
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
