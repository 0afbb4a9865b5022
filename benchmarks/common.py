"""Helpers shared by the benchmark scripts: percentiles, JSON output and where the data lives."""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(["python", *sys.argv]),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **payload,
    }
    path.write_text(json.dumps(payload, indent=2))
    return path


def _commit() -> str:
    """The commit the numbers came from ("+changes" when the tree differed from it)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return (git("rev-parse", "--short", "HEAD") or "unknown") + (
        "+changes" if git("status", "--porcelain", "imprint") else ""
    )


def save_bar_plot(name: str, values: dict[str, float], ylabel: str, title: str) -> Path:
    """A bar chart (PNG) next to the JSON results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.bar(list(values), list(values.values()))
    axes.set(ylabel=ylabel, title=title, ylim=(0, 1))
    for x, value in enumerate(values.values()):
        axes.annotate(f"{value:.2f}", (x, value), ha="center", va="bottom")
    path = RESULTS / f"{name}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def save_plot(
    name: str,
    x: list[float],
    series: dict[str, list[float]],
    xlabel: str,
    ylabel: str,
    title: str,
    log: bool = True,
    log_x: bool = False,
) -> Path:
    """A line plot (PNG) next to the JSON results; `log`: both axes logarithmic, `log_x`: only x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(6, 4))
    for label, values in series.items():
        axes.plot(x, values, marker="o", label=label)
    if log or log_x:
        axes.set_xscale("log")
    if log_x:  # few points: label them, not the powers of ten
        axes.set_xticks(x, [f"{value:g}" for value in x], minor=False)
        axes.minorticks_off()
    if log:
        axes.set_yscale("log")
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    path = RESULTS / f"{name}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
