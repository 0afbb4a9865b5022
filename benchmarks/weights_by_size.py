"""Accuracy of each tier and retention against the number of facts trained into the adapter.

    python benchmarks/weights_by_size.py      # after weights.py --dataset fictional --limit N --index

Reads the `weights.py --dataset fictional --limit N --index` results at the default settings (one
per N found; `--epochs` as each was run) and puts them on one axis: the natural questions answered
with no memory (none), by the adapter alone (weights), by the index tier, by hybrid (index + adapter),
by the reader given the fact's own passage (context), and retention of general knowledge: on the
control set's held-out half (what the gate reads) and on the general questions no step uses
("general retention", in runs that measured it).
Writes weights_by_size.json and .png next to the other results and prints the table.
"""

import json
import re

from common import RESULTS, save_plot, write_result
from rich.console import Console
from rich.table import Table
from weights import result_name

from imprint.weights.plan import REPLAY_REPEATS, TrainConfig

_AT_DEFAULTS = result_name(
    "fictional",
    "FACTS",
    REPLAY_REPEATS,
    TrainConfig.kl_weight,
    TrainConfig.lr,
    TrainConfig.distill_weight,
    TrainConfig.hard_weight,
    TrainConfig.open_book,
)
DEFAULT_RUN = re.compile(re.escape(_AT_DEFAULTS).replace("FACTS", r"(\d+)") + r"\.json")  # no suffix: default LoRA
SERIES = {"none": "before", "weights": "after", "hybrid": "hybrid", "index": "index", "context": "open_book_reference"}


def contains(run: dict, key: str) -> float | None:
    scores = run.get(key)
    return scores["natural"]["contains"] if scores else None


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main() -> None:
    runs = sorted(
        (int(m.group(1)), json.loads(path.read_text()))
        for path in RESULTS.glob("weights_fictional_*.json")
        if (m := DEFAULT_RUN.fullmatch(path.name))
    )
    rows = [
        {
            "facts": facts,
            "commit": run["commit"],
            "epochs": run["epochs"],
            "retention": run["retention"],
            "general retention": run.get("general_retention", {}).get("retention"),
            "consolidate_seconds": run["consolidate_seconds"],
            **{tier: contains(run, key) for tier, key in SERIES.items()},
        }
        for facts, run in runs
    ]
    table = Table(
        "facts",
        *SERIES,
        "retention",
        "general retention",
        "epochs",
        "consolidate s",
        "commit",
        title="natural questions answered (contains the gold), by facts trained",
    )
    for row in rows:
        table.add_row(
            str(row["facts"]),
            *(_share(row[t]) for t in SERIES),
            f"{row['retention']:.0%}",
            _share(row["general retention"]),
            str(row["epochs"]),
            f"{row['consolidate_seconds']:.0f}",
            row["commit"],
        )
    Console().print(table)
    shown = [row for row in rows if all(row[t] is not None for t in SERIES)]  # runs made with --index
    series = {tier: [row[tier] for row in shown] for tier in SERIES} | {
        "retention": [row["retention"] for row in shown]
    }
    if all(row["general retention"] is not None for row in shown):
        series["general retention"] = [row["general retention"] for row in shown]
    plot = save_plot(
        "weights_by_size",
        [row["facts"] for row in shown],
        series,
        "facts trained (log)",
        "share answered / retained",
        "tiers and retention against facts consolidated",
        log=False,
        log_x=True,
    )
    print(f"wrote {write_result('weights_by_size', {'runs': rows})}, {plot}")


if __name__ == "__main__":
    main()
