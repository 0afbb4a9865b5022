"""Multi-hop retrieval on HotpotQA: does the entity graph find the second supporting passage?

    python benchmarks/graph_recall.py [--limit 100]

The 994-passage corpus (title: sentences, one memory each) is ingested once; for each question the
supporting passages (HotpotQA's supporting_facts titles, two per question) are looked for in the
top 2 and top 5 of: dense only (cosine), hybrid (BM25 + dense, RRF), dense spread over the graph
alone (one step from the best dense matches and the question's names to the passages about the
names they mention: recall/graph.py), and hybrid + graph (BM25 + the spread dense ranking, fused:
what `Memory.search(graph=True)` does). No language model runs; the two `Memory.search` calls are timed. Recall@k:
the share of
supporting passages found; all@k: questions with every supporting passage found.
"""

import argparse
import json
import statistics
import tempfile
import time

from common import SHARED_DATA, save_plot, write_result
from rich.console import Console
from rich.progress import track
from rich.table import Table

from imprint import Memory
from imprint.bench.datasets import hotpotqa
from imprint.recall.search import graph_walk
from imprint.text.entities import question_names

QUESTIONS = SHARED_DATA / "hotpotqa" / "hotpotqa_train100.json"
CORPUS = SHARED_DATA / "hotpotqa" / "hotpotqa_train100_corpus.json"
METHODS = ("dense", "hybrid", "graph", "hybrid+graph")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    console = Console()
    raw = json.loads(QUESTIONS.read_text())[: args.limit]
    dataset = hotpotqa(QUESTIONS, CORPUS, args.limit)
    found = {method: {2: [], 5: []} for method in METHODS}
    complete = {method: {2: [], 5: []} for method in METHODS}
    by_type: dict[str, dict[str, list[float]]] = {}
    seconds: dict[str, list[float]] = {"hybrid": [], "hybrid+graph": []}
    with tempfile.TemporaryDirectory() as folder:
        memory = Memory(folder)
        [passages] = dataset.spaces.values()
        memory.ingest(passages, "hotpot")
        opened = memory.space("hotpot")
        store, index = opened.store, opened.vectors
        graph = opened.graph
        for question in track(raw, description="retrieving", console=console):
            gold = {title for title, _ in question["supporting_facts"]}
            vector = memory.embedder.embed([question["question"]])[0]
            nearest = index.search(vector, 50)
            ranked = {
                "dense": [memory_id for memory_id, _ in nearest],
                "hybrid": timed(
                    seconds["hybrid"],
                    lambda: memory.search(question["question"], "hotpot", k=5, graph=False),  # noqa: B023
                ),
                "graph": [
                    memory_id
                    for memory_id, _ in graph_walk(
                        store, graph, frozenset(question_names(question["question"])), nearest, 5
                    )
                ],
                "hybrid+graph": timed(
                    seconds["hybrid+graph"],
                    lambda: memory.search(question["question"], "hotpot", k=5, graph=True),  # noqa: B023
                ),
            }
            for method, ids in ranked.items():
                for k in (2, 5):
                    sources = {m.source for m in store.get(ids[:k])}
                    share = len(gold & sources) / len(gold)
                    found[method][k].append(share)
                    complete[method][k].append(float(share == 1.0))
                    if k == 5:
                        by_type.setdefault(question["type"], {}).setdefault(method, []).append(share)
        memory.close()
    summary = {
        method: {f"recall@{k}": sum(found[method][k]) / len(raw) for k in (2, 5)}
        | {f"all@{k}": sum(complete[method][k]) / len(raw) for k in (2, 5)}
        | {f"recall@5 {kind}": sum(v[method]) / len(v[method]) for kind, v in sorted(by_type.items())}
        for method in METHODS
    }
    table = Table(
        "method",
        *summary["dense"].keys(),
        title=f"HotpotQA supporting-passage recall, {len(raw)} questions, {dataset.documents} passages",
    )
    for method, row in summary.items():
        table.add_row(method, *(f"{value:.1%}" for value in row.values()))
    console.print(table)
    latency = {
        method: {"p50_ms": 1000 * statistics.median(times), "p95_ms": 1000 * statistics.quantiles(times, n=20)[-1]}
        for method, times in seconds.items()
    }
    console.print(
        "Memory.search latency: "
        + ", ".join(
            f"{method} p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms" for method, row in latency.items()
        )
    )
    plot = save_plot(
        "graph_recall",
        [2, 5],
        {m: [row["recall@2"], row["recall@5"]] for m, row in summary.items()},
        "k (passages retrieved)",
        "supporting-passage recall",
        f"HotpotQA, {len(raw)} questions",
        log=False,
    )
    written = write_result("graph_recall", {"questions": len(raw), "summary": summary, "latency": latency})
    console.print(f"wrote {written} and {plot}")


def timed(times: list[float], search) -> list[int]:
    """The ids `search()` returns; its wall time is appended to `times`."""
    started = time.perf_counter()
    hits = search()
    times.append(time.perf_counter() - started)
    return [hit.memory.id for hit in hits]


if __name__ == "__main__":
    main()
