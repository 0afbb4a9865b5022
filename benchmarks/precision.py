"""bf16 against fp32 training on the same facts: loss curve, probe recall, answers, retention, time.

    python benchmarks/precision.py [--facts 20] [--epochs 4] [--seed 0]

imprint trains in bf16 where a matmul probe finds it clearly faster (imprint/weights/precision.py).
bf16 rounds weights and activations, so this checks that what it picks learns as fp32 does: the same
facts consolidated twice with the same seed and no early stop, once per dtype; then each adapter
answers the held-out natural questions with no memories in the prompt. Prints a table, writes JSON
and a plot of both loss curves.
"""

import argparse
import tempfile
import time

import numpy as np
import torch
from common import save_plot, write_result
from rich.console import Console
from rich.table import Table
from weights import load, score

from imprint import Memory
from imprint.weights.plan import Gate, TrainConfig
from imprint.weights.precision import matmul_seconds, train_dtype

SMOOTHING = 10  # steps per point of the plotted loss curves (one step is one batch of 8 rows)


def run(dtype: str, facts: int, epochs: int, seed: int, console: Console) -> dict:
    dataset = load("fictional", facts, seed)
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        for space, items in dataset.spaces.items():
            memory.ingest(items, space)
        started = time.perf_counter()
        report = memory.consolidate(
            "bench",
            TrainConfig(epochs=epochs, seed=seed, dtype=dtype, stop_at_probe_recall=2.0),  # never stops early
            Gate(0.0, 0.0),
            log=console.print,
        )
        wall = time.perf_counter() - started
        scores, _ = score(memory.answerer, dataset, memory.adapters("bench").readable(report.version), dtype, {})
    natural = scores.get("natural", next(iter(scores.values())))
    return {
        "dtype": report.dtype,
        "consolidate_seconds": wall,
        "train_seconds": report.train_seconds,
        "teacher_seconds": report.teacher_seconds,
        "examples_per_second": report.examples_per_second,
        "probe_history": report.probe_history,
        "retention": report.retention,
        "losses": report.losses,
        "step_losses": report.step_losses,
        "natural_contains": natural["contains"],
        "natural_exact": natural["exact"],
        "scores": scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    probe = {"fp32_matmul_s": matmul_seconds(torch.float32), "bf16_matmul_s": matmul_seconds(torch.bfloat16)}
    auto = "bf16" if train_dtype("auto") == torch.bfloat16 else "fp32"
    console.print(
        f"matmul probe: fp32 {probe['fp32_matmul_s']:.3f} s, bf16 {probe['bf16_matmul_s']:.3f} s; auto picks {auto}"
    )
    runs = [run(dtype, args.facts, args.epochs, args.seed, console) for dtype in ("fp32", "bf16")]
    steps = min(len(r["step_losses"]) for r in runs)
    difference = float(np.max(np.abs(np.subtract(*[r["step_losses"][:steps] for r in runs]))))
    table = Table(
        "dtype",
        "train s",
        "examples/s",
        "loss per epoch",
        "probe recall per epoch",
        "retention",
        "natural questions (contains / exact)",
        title=f"{args.facts} made-up facts, {args.epochs} epochs, same seed (2 cores; auto picks {auto})",
    )
    for r in runs:
        table.add_row(
            r["dtype"],
            f"{r['train_seconds']:.0f}",
            f"{r['examples_per_second']:.1f}",
            " ".join(f"{v:.3f}" for v in r["losses"]),
            " ".join(f"{v:.0%}" for v in r["probe_history"]),
            f"{r['retention']:.0%}",
            f"{r['natural_contains']:.0%} / {r['natural_exact']:.0%}",
        )
    console.print(table)
    console.print(
        f"largest per-step loss difference: {difference:.3f}; bf16 trains "
        f"{runs[0]['train_seconds'] / runs[1]['train_seconds']:.2f}x as fast as fp32"
    )
    result = {
        "facts": args.facts,
        "epochs": args.epochs,
        "matmul_probe": probe,
        "auto": auto,
        "largest_step_loss_difference": difference,
        "runs": runs,
    }
    console.print(f"wrote {write_result('precision', result)}")
    points = steps // SMOOTHING
    smoothed = {
        f"{r['dtype']} loss": [
            float(np.mean(r["step_losses"][i * SMOOTHING : (i + 1) * SMOOTHING])) for i in range(points)
        ]
        for r in runs
    }
    plot = save_plot(
        "precision_loss",
        [(i + 1) * SMOOTHING for i in range(points)],
        smoothed,
        "training step",
        f"loss (mean of {SMOOTHING} steps)",
        f"bf16 vs fp32: {args.facts} facts, same seed",
        log=False,
    )
    console.print(f"wrote {plot}")


if __name__ == "__main__":
    main()
