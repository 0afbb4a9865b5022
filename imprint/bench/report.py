"""Bench outputs: report.json (every answer), report.md (the tables) and PNG plots."""

import json
from pathlib import Path

from .runner import BenchResult


def markdown(result: BenchResult) -> str:
    summary = result.summary()
    costs = result.costs
    lines = [
        f"# imprint bench: {result.dataset}",
        "",
        f"{result.documents} documents, {result.knowledge_tokens:,} tokens of knowledge; "
        f"ingest {costs.get('ingest_s', 0):.1f} s"
        + (
            f"; training {costs['train_s']:.0f} s, adapter {costs['adapter_bytes'] / 1e6:.1f} MB, "
            f"probe recall {costs['probe_recall']:.0%}, retention {costs['retention']:.0%}"
            if "train_s" in costs
            else ""
        ),
        "",
        ", ".join(f"{role}: {name}" for role, name in result.models.items()),
        "",
        "| strategy | questions | accuracy | exact match | F1 | F1 answerable (as said) | p50 s | p95 s "
        "| prompt tokens |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy, s in summary.items():
        lines.append(
            f"| {strategy} | {s['questions']} | {s['accuracy']:.0%} | {s['exact_match']:.0%} | {s['f1']:.2f} "
            f"| {s['f1_answerable']:.3f} ({s['f1_answerable_as_said']:.3f}) "
            f"| {s['p50_s']:.2f} | {s['p95_s']:.2f} | {s['prompt_tokens']:.0f} |"
        )
    categories = sorted({c for s in summary.values() for c in s["by_category"]})
    lines += [
        "",
        "Accuracy by category:",
        "",
        "| strategy | " + " | ".join(categories) + " |",
        "|---|" + "---|" * len(categories),
    ]
    for strategy, s in summary.items():
        cells = [f"{s['by_category'][c]:.0%}" if c in s["by_category"] else "-" for c in categories]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    lines += ["", "F1 by category:", "", "| strategy | " + " | ".join(categories) + " |"]
    lines += ["|---|" + "---|" * len(categories)]
    for strategy, s in summary.items():
        cells = [f"{s['f1_by_category'][c]:.2f}" if c in s["f1_by_category"] else "-" for c in categories]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    groups = sorted({g for s in summary.values() for g in s["by_learned"]})
    if groups:
        lines += [
            "",
            "Accuracy by whether the documents that answer a question were consolidated or added after:",
            "",
            "| strategy | " + " | ".join(groups) + " |",
            "|---|" + "---|" * len(groups),
        ]
        for strategy, s in summary.items():
            lines.append(
                f"| {strategy} | "
                + " | ".join(f"{s['by_learned'][g]:.0%}" if g in s["by_learned"] else "-" for g in groups)
                + " |"
            )
    if "auto" in summary:
        routes = ", ".join(f"{tier} {n}" for tier, n in sorted(summary["auto"]["answered_by"].items()))
        lines += ["", f"auto answered from: {routes}"]
    return "\n".join(lines) + "\n"


def write_report(result: BenchResult, folder: Path) -> list[Path]:
    """Write the report files into `folder`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "report.json", folder / "report.md", folder / "accuracy.png", folder / "latency.png"]
    paths[0].write_text(json.dumps(result.to_dict(), indent=2))
    paths[1].write_text(markdown(result))
    summary = result.summary()
    strategies = list(summary)
    categories = sorted({c for s in summary.values() for c in s["by_category"]})

    figure, axes = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(1, len(strategies))
    for i, strategy in enumerate(strategies):
        values = [summary[strategy]["by_category"].get(c, 0.0) for c in categories]
        axes.bar([x + i * width for x in range(len(categories))], values, width, label=strategy)
    axes.set_xticks([x + width * (len(strategies) - 1) / 2 for x in range(len(categories))], categories)
    axes.set(ylabel="accuracy", ylim=(0, 1), title=f"{result.dataset}: accuracy by category and strategy")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(paths[2], dpi=120)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 4))
    for strategy in strategies:
        s = summary[strategy]
        axes.scatter(s["p50_s"], s["accuracy"], s=60)
        axes.annotate(strategy, (s["p50_s"], s["accuracy"]), textcoords="offset points", xytext=(5, 5))
    axes.set_xscale("log")
    axes.set(
        xlabel="median seconds per answer (log)",
        ylabel="accuracy",
        ylim=(-0.05, 1.05),
        title=f"{result.dataset}: accuracy vs answer latency",
    )
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(paths[3], dpi=120)
    plt.close(figure)
    return paths
