"""Latency and accuracy as knowledge grows: the same kind of questions over worlds of growing size.

Context pays for every token of knowledge on every question (attention over the whole prompt);
index pays for k memories; weights pay nothing per question once trained. This measures by how much.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..memory import Memory
from ..weights.plan import TrainConfig
from .datasets import Dataset
from .runner import run_bench
from .world import world


def run_scaling(
    memory: Memory,
    sizes: list[int],
    strategies: list[str],
    questions: int,
    seed: int = 0,
    train: TrainConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """One point per size (facts): knowledge tokens, and per strategy latency p50 and accuracy."""
    points = []
    for size in sizes:
        generated = world(size, seed)
        space = f"scale-{size}"
        sample = [replace(q, space=space) for q in generated.questions if q.category == "single-hop"][:questions]
        dataset = Dataset(generated.name, {space: next(iter(generated.spaces.values()))}, sample)
        result = run_bench(memory, dataset, strategies, train=train, progress=progress, log=log)
        summary = result.summary()
        points.append(
            {
                "facts": size,
                "knowledge_tokens": result.knowledge_tokens,
                "costs": result.costs,
                **{
                    s: {
                        "p50_s": summary[s]["p50_s"],
                        "accuracy": summary[s]["accuracy"],
                        "prompt_tokens": summary[s]["prompt_tokens"],
                    }
                    for s in strategies
                },
            }
        )
        log(
            f"{size} facts ({result.knowledge_tokens} tokens): "
            + ", ".join(f"{s} {summary[s]['p50_s']:.2f} s / {summary[s]['accuracy']:.0%}" for s in strategies)
        )
    return points


def write_scaling(points: list[dict], strategies: list[str], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        folder / "scaling.json",
        folder / "scaling.md",
        folder / "scaling_latency.png",
        folder / "scaling_accuracy.png",
    ]
    paths[0].write_text(json.dumps(points, indent=2))
    lines = [
        "| facts | knowledge tokens | " + " | ".join(f"{s} p50 s | {s} accuracy" for s in strategies) + " |",
        "|---|---|" + "---|---|" * len(strategies),
    ]
    for p in points:
        lines.append(
            f"| {p['facts']} | {p['knowledge_tokens']} | "
            + " | ".join(f"{p[s]['p50_s']:.2f} | {p[s]['accuracy']:.0%}" for s in strategies)
            + " |"
        )
    paths[1].write_text("\n".join(lines) + "\n")
    tokens = [p["knowledge_tokens"] for p in points]
    for path, key, label, log_y in [
        (paths[2], "p50_s", "median seconds per answer", True),
        (paths[3], "accuracy", "accuracy", False),
    ]:
        figure, axes = plt.subplots(figsize=(6, 4))
        for s in strategies:
            axes.plot(tokens, [p[s][key] for p in points], marker="o", label=s)
        axes.set_xscale("log")
        if log_y:
            axes.set_yscale("log")
        axes.set(xlabel="tokens of knowledge (log)", ylabel=label, title=f"{label} as knowledge grows")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return paths
