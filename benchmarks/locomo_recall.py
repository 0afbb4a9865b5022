"""LoCoMo evidence recall@k: does search put every evidence turn of a question in the top k?

    python benchmarks/locomo_recall.py [--path ../shared/data/locomo/locomo_dev2.json] [--ks 5,10,25] [--answers]
                                       [--embedder embeddinggemma-300m] [--default-only] [--store postgresql://...]

Each conversation goes into its own space, one memory per dialogue turn (speaker and session date
kept), through the same `Memory.ingest` as `imprint add`. Questions of categories 1-4 are searched;
a question counts as recalled at k when all of its evidence dialogue ids are among the top k.
No language model is needed. Keyword-only and dense-only rankings are scored beside the hybrid one
and hybrid + entity graph. All of it three times: with every turn indexed; with the default
lifecycle (low-information turns and repeats kept raw only), turns indexed as said; and with each
turn's statement (extract.py: relative dates resolved), to show what each costs in recall and
saves in indexed tokens (compression: tokens said / tokens indexed). For hybrid search it also
counts how much of the evidence found in the top 10 reaches the reader: the top 5 that `ask
--strategy index` shows it (reranked as IMPRINT_RERANK says, then what scores at least
IMPRINT_MIN_RELATIVE_SCORE of the best). "hybrid+rerank" is hybrid with its top 50 reordered by
late interaction (recall/rerank.py), as `ask` retrieves. The plot
is recall against k for each retriever with the default lifecycle. With `--answers`, every
question is also answered (strategy index, the packaged model) and token F1 against the gold
answer is reported per category. `--embedder` takes what IMPRINT_EMBEDDER takes (the result file
is named after it when it is not the default). `--default-only` runs the default lifecycle alone;
`--store` runs it on a Postgres database (keywords by tsvector and BM25 in SQL, dense by pgvector),
to compare with the SQLite files (FTS5) on the same questions.
"""

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from common import SHARED_DATA, save_plot, write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory, Settings
from imprint.bench.metrics import token_f1
from imprint.encode.parse import conversation_item, locomo_sessions, locomo_turn
from imprint.recall.search import worth_reading

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
PLOT_KS = (1, 2, 3, 5, 10, 15, 20, 25, 50)
READ_K = 5  # what ask --strategy index retrieves


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
    parser.add_argument("--answers", action="store_true", help="also answer (index) and score token F1")
    parser.add_argument("--embedder", default=None, help="as IMPRINT_EMBEDDER (default: the packaged MiniLM)")
    parser.add_argument("--default-only", action="store_true", help="only the default lifecycle")
    parser.add_argument("--store", default=None, help="a postgresql:// URL (implies --default-only)")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    measured = sorted(set(ks) | set(PLOT_KS))
    console = Console()
    samples = json.loads(args.path.read_text())
    results, sizes, f1, reaching, curves = {}, {}, {}, {}, {}
    settings = (
        (
            "every turn as said",
            {
                "min_information": 0,
                "duplicate_similarity": 1.01,
                "supersede": False,
                "focus": False,
                "extract": "off",
                "graph": False,
            },
        ),
        ("lifecycle, turns as said", {"extract": "off"}),
        ("lifecycle + statements (default)", {}),
    )
    for setting, lifecycle in settings[2:] if args.default_only or args.store else settings:
        found, totals, size, scores, reached = recall(
            samples, measured, {**lifecycle, "embedder": args.embedder, "store": args.store}, args.answers
        )
        n = sum(totals.values())
        sizes[setting] = size
        reaching[setting] = reached
        curves[setting] = {mode: [sum(found[mode][k].values()) / n for k in PLOT_KS] for mode in found}
        if scores:
            f1[setting] = {
                "all": sum(map(sum, scores.values())) / n,
                **{CATEGORIES[c]: sum(scores[c]) / totals[c] for c in sorted(totals)},
            }
        for mode in found:
            results[f"{mode} ({setting})"] = {
                f"recall@{k}": {
                    "all": sum(found[mode][k].values()) / n,
                    **{CATEGORIES[c]: found[mode][k][c] / totals[c] for c in sorted(totals)},
                }
                for k in ks
            }
    table = Table(
        "retriever",
        *[f"recall@{k}" for k in ks],
        *[f"{CATEGORIES[c]} @10 (n={totals[c]})" for c in sorted(totals)],
        title=f"LoCoMo evidence recall, {len(samples)} conversations, {n} questions, "
        f"{args.embedder or 'all-MiniLM-L6-v2'}",
    )
    for mode, by_k in results.items():
        table.add_row(
            mode,
            *[f"{by_k[f'recall@{k}']['all']:.3f}" for k in ks],
            *[f"{by_k['recall@10'][CATEGORIES[c]]:.3f}" for c in sorted(totals)],
        )
    console.print(table)
    for setting, size in sizes.items():
        console.print(
            f"{setting}: {size['indexed']} of {size['turns']} turns indexed, {size['indexed_tokens']:,} "
            f"tokens indexed of {size['tokens']:,} said (compression {size['tokens'] / size['indexed_tokens']:.2f}x)"
        )
    table = Table(
        "setting",
        "evidence turns in top 10",
        f"of them shown to the reader (top {READ_K}, relative floor)",
        "share",
        "questions with all evidence shown",
        title="Does found evidence reach the reader? (hybrid)",
    )
    for setting, r in reaching.items():
        table.add_row(
            setting,
            str(r["in_top10"]),
            str(r["shown"]),
            f"{r['shown'] / max(r['in_top10'], 1):.3f}",
            f"{r['all_shown'] / n:.3f}",
        )
    console.print(table)
    if f1:
        table = Table(
            "ingest and answer",
            "token F1",
            *[f"{CATEGORIES[c]} (n={totals[c]})" for c in sorted(totals)],
            title="LoCoMo answers (index, k=5)",
        )
        for setting, by_category in f1.items():
            table.add_row(
                setting, f"{by_category['all']:.3f}", *[f"{by_category[CATEGORIES[c]]:.3f}" for c in sorted(totals)]
            )
        console.print(table)
    name = (
        "locomo_recall"
        + (f"_{Path(args.embedder).name}" if args.embedder else "")
        + ("_postgres" if args.store else "_default_only" if args.default_only else "")
    )
    path = write_result(
        name,
        {
            "data": str(args.path),
            "embedder": args.embedder or "all-MiniLM-L6-v2",
            "store": "postgres" if args.store else "sqlite",
            "questions": n,
            "sizes": sizes,
            "per_category_counts": {CATEGORIES[c]: totals[c] for c in totals},
            "results": results,
            "answer_f1": f1,
            "evidence_reaching_reader": reaching,
            "recall_curve": {"k": list(PLOT_KS), **curves},
        },
    )
    default = "lifecycle + statements (default)"
    plot = save_plot(
        name,
        list(PLOT_KS),
        curves[default],
        "k (memories retrieved)",
        "all evidence in top k",
        f"LoCoMo evidence recall, {args.embedder or 'all-MiniLM-L6-v2'}",
        log=False,
    )
    console.print(f"wrote {path} and {plot}")


def recall(samples: list[dict], ks: list[int], lifecycle: dict, answers: bool) -> tuple[dict, dict, dict, dict, dict]:
    """(found[mode][k][category], questions per category, sizes, answer F1s per category, evidence
    reaching the reader) for one setting (the F1s only with `answers`)."""
    reached = {"in_top10": 0, "shown": 0, "all_shown": 0}
    scores: dict[int, list[float]] = defaultdict(list)
    found = {
        mode: defaultdict(lambda: defaultdict(int))
        for mode in ("keyword", "dense", "hybrid", "hybrid+graph", "hybrid+rerank")
    }
    totals: dict[int, int] = defaultdict(int)
    size = {"turns": 0, "indexed": 0, "tokens": 0, "indexed_tokens": 0}
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(settings=Settings(data_dir=data, **lifecycle))
        for sample in samples:
            space = sample["sample_id"]
            turns = conversation_turns(sample)
            ids = memory.ingest([conversation_item(turns, space)], space).memories
            opened = memory.space(space)
            store, index = opened.store, opened.vectors
            chunks = store.get(ids)
            size["turns"] += len(chunks)
            size["tokens"] += sum(memory.embedder.count_tokens(f"{t['speaker']}: {t['text']}") for t in turns)
            size["indexed"] += sum(c.dropped is None for c in chunks)
            size["indexed_tokens"] += sum(c.tokens for c in chunks if c.dropped is None)
            dia = {c.id: c.metadata.get("dia_id") for c in chunks}
            questions = [q for q in sample["qa"] if q.get("category") in CATEGORIES and q.get("evidence")]
            vectors = [memory.embedder.embed_query(q["question"]) for q in questions]
            for question, vector in zip(questions, vectors):
                evidence = set(question["evidence"])
                top = max(ks)
                rankings = {
                    "keyword": store.keyword_search(question["question"], top),
                    "dense": [i for i, _ in index.search(vector, top)],
                    "hybrid": [h.memory.id for h in memory.search(question["question"], space, k=top, graph=False)],
                    "hybrid+graph": [
                        h.memory.id for h in memory.search(question["question"], space, k=top, graph=True)
                    ],
                    "hybrid+rerank": [
                        h.memory.id for h in memory.search(question["question"], space, k=top, graph=False, rerank=True)
                    ],
                }
                totals[question["category"]] += 1
                if answers:
                    said = memory.ask(question["question"], space, "index").text
                    scores[question["category"]].append(token_f1(said, str(question["answer"])))
                dia_ids = [dia[i] for i in rankings["hybrid"]]
                shown = {
                    dia[h.memory.id]
                    for h in worth_reading(
                        memory.search(
                            question["question"], space, k=READ_K, graph=False, rerank=memory.settings.rerank
                        ),
                        memory.settings.min_relative_score,
                    )
                }
                reached["in_top10"] += len(evidence & set(dia_ids[:10]))
                reached["shown"] += len(evidence & shown)
                reached["all_shown"] += evidence <= shown
                for mode, ranking in rankings.items():
                    for k in ks:
                        if evidence <= {dia[i] for i in ranking[:k]}:
                            found[mode][k][question["category"]] += 1
        memory.close()
    return found, totals, size, scores, reached


if __name__ == "__main__":
    main()
