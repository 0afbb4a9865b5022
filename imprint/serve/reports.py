"""Bench reports for the web page: the folders under IMPRINT_BENCH_DIR that hold a report.json
(`imprint bench --out`, `make demo`), with their summary tables and PNG plots.

Reports describe no single space, so only a key that may touch every space ("*") reads them.
"""

import json
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from .rest import Caller, Mem

MAX_DEPTH = 3  # folders below the bench folder searched for report.json
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,200}$"


class ReportOut(BaseModel):
    name: str  # its folder, relative to the bench folder
    dataset: str
    documents: int
    summary: dict[str, Any]  # per strategy: questions, accuracy, exact match, F1, latency, prompt tokens
    costs: dict[str, Any]
    plots: list[str]


class ReportsOut(BaseModel):
    folder: str
    reports: list[ReportOut]


router = APIRouter(tags=["bench"])


def _admin(request: Request, key: str) -> None:
    if not request.app.state.keys.allows_all(key):
        raise HTTPException(404, "no bench reports for this key (they need a key for every space)")


def _reports(root: FilePath) -> list[FilePath]:
    found = [root / "report.json"] if (root / "report.json").is_file() else []
    for depth in range(1, MAX_DEPTH + 1):
        found += sorted(root.glob("/".join(["*"] * depth) + "/report.json"))
    return [path.parent for path in found]


def _report(root: FilePath, folder: FilePath) -> ReportOut:
    try:
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HTTPException(404, f"report {folder.name!r} is not readable: {type(error).__name__}") from None
    return ReportOut(
        name=folder.relative_to(root).as_posix() if folder != root else ".",
        dataset=str(data.get("dataset", "")),
        documents=int(data.get("documents", 0)),
        summary=data.get("summary", {}),
        costs=data.get("costs", {}),
        plots=sorted(p.name for p in folder.glob("*.png")),
    )


@router.get("/bench")
def list_reports(request: Request, key: Caller, memory: Mem) -> ReportsOut:
    """Every bench report under the bench folder, newest layout first."""
    _admin(request, key)
    root = memory.settings.bench_dir
    return ReportsOut(
        folder=str(root), reports=[_report(root, folder) for folder in _reports(root)] if root.is_dir() else []
    )


@router.get(
    "/bench/plot",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}, "description": "the plot"}},
)
def plot(
    request: Request,
    key: Caller,
    memory: Mem,
    name: Annotated[str, Query(pattern=r"^[A-Za-z0-9_.\-]+\.png$")],
    report: Annotated[str, Query(pattern=NAME)] = ".",
) -> FileResponse:
    """One PNG plot of a report (?report=NAME&name=FILE.png)."""
    _admin(request, key)
    root = memory.settings.bench_dir.resolve()
    path = (root / report / name).resolve()
    if root not in path.parents or not path.is_file() or path.suffix != ".png":
        raise HTTPException(404, f"no plot {name!r} in report {report!r}")
    return FileResponse(path, media_type="image/png")
