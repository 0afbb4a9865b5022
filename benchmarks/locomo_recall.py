"""LoCoMo evidence recall@k: does search put every evidence turn of a question in the top k?

    python benchmarks/locomo_recall.py [--path ../shared/data/locomo/locomo_dev2.json] [--ks 5,10,25]

Each conversation goes into its own space, one memory per dialogue turn (speaker and session date
kept), through the same `Memory.ingest` as `imprint add`. Questions of categories 1-4 are searched;
a question counts as recalled at k when all of its evidence dialogue ids are among the top k.
No language model is needed. Keyword-only and dense-only rankings are scored beside the hybrid one.
"""

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from common import SHARED_DATA, write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory
from imprint.encode.parse import conversation_item, locomo_sessions, locomo_turn

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


def conversation_turns(sample: dict) -> list[dict]:
    turns = []
    for session, when in locomo_sessions(sample["conversation"]):
        for turn in sample["conversation"][session]:
            turns.append({**locomo_turn(turn), "time": when})
    return turns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", type=Path, default=SHARED_DATA / "locomo" / "locomo_dev2.json")
    parser.add_argument("--ks", default="5,10,25")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    console = Console()
    samples = json.loads(args.path.read_text())
    found = {mode: defaultdict(lambda: defaultdict(int)) for mode in ("keyword", "dense", "hybrid")}
    totals: dict[int, int] = defaultdict(int)
    memories = 0
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        for sample in samples:
            space = sample["sample_id"]
            ids = memory.ingest([conversation_item(conversation_turns(sample), space)], space).memories
            memories += len(ids)
            store, index = memory._space(space)
            dia = {m.id: m.metadata.get("dia_id") for m in store.get(ids)}
            questions = [q for q in sample["qa"] if q.get("category") in CATEGORIES and q.get("evidence")]
            vectors = memory.embedder.embed([q["question"] for q in questions])
            for question, vector in zip(questions, vectors):
                evidence = set(question["evidence"])
                top = max(ks)
                rankings = {
                    "keyword": store.keyword_search(question["question"], top),
                    "dense": [i for i, _ in index.search(vector, top)],
                    "hybrid": [h.memory.id for h in memory.search(question["question"], space, k=top)],
                }
                totals[question["category"]] += 1
                for mode, ranking in rankings.items():
                    for k in ks:
                        if evidence <= {dia[i] for i in ranking[:k]}:
                            found[mode][k][question["category"]] += 1
        memory.close()

    n = sum(totals.values())
    results = {mode: {f"recall@{k}": {
        "all": sum(found[mode][k].values()) / n,
        **{CATEGORIES[c]: found[mode][k][c] / totals[c] for c in sorted(totals)}} for k in ks} for mode in found}
    table = Table("retriever", *[f"recall@{k}" for k in ks], *[f"{CATEGORIES[c]} @10 (n={totals[c]})" for c in sorted(totals)],
                  title=f"LoCoMo evidence recall, {len(samples)} conversations, {n} questions, {memories} turns")
    for mode, by_k in results.items():
        table.add_row(mode, *[f"{by_k[f'recall@{k}']['all']:.3f}" for k in ks],
                      *[f"{by_k['recall@10'][CATEGORIES[c]]:.3f}" for c in sorted(totals)])
    console.print(table)
    path = write_result("locomo_recall", {"data": str(args.path), "questions": n, "memories": memories,
                                          "per_category_counts": {CATEGORIES[c]: totals[c] for c in totals},
                                          "results": results})
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
