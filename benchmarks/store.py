"""Ingest throughput and search latency at 1k, 10k and 100k memories (embedding included).

    python benchmarks/store.py [--sizes 1000,10000,100000] [--queries 200] [--store postgresql://...]

Memories are generated sentences about made-up people (seeded), one memory each, ingested through
`Memory.ingest` exactly as `imprint add` does. Search latency is the whole `Memory.search` call
(query embedding, FTS5, dense, fusion, fetch), the queries one after another, each also timed
with the question embedded before the keyword search starts (as before the two overlapped); the dense and
keyword parts are timed alone in a second pass, beside the exact scan (which reads every vector,
~150 MB at 100k, and so would evict the caches a search uses if timed between searches).
From ANN_MIN memories on, dense search goes through the HNSW index (recall/dense.py): its build
time is reported, the exact scan is timed beside it, and "HNSW overlap" is the share of the exact
top 10 that the HNSW search returns; "keyword overlap" is the share of the keyword top 10 with every
word ranked that the common-terms query returns (store/sqlite.py: past RANKED_ROWS matching rows,
common words only add to the score); "1% filter" times the keyword search restricted to every
100th memory, as a filter on a tag or source restricts it. With --store, the same runs against a Postgres database
(keywords by tsvector and BM25 in SQL, dense search by pgvector with the space's own HNSW index from
5k vectors, built while ingesting, so no build time is reported) and the result is written as
store_postgres.
"""

import argparse
import random
import re
import tempfile
import time
from concurrent.futures import Future
from unittest.mock import patch

import numpy as np
from common import percentiles, save_plot, write_result
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from imprint import Memory, Settings
from imprint.encode.parse import text_item
from imprint.recall import search
from imprint.recall.dense import VectorIndex
from imprint.store import sqlite

SYLLABLES = "ka lo mi ra ten vo su de bri an el or ul fa ne ti go ha ze pe ru si ko la".split()
THINGS = "violin bakery garden sailboat library telescope bicycle orchard studio workshop kiln".split()
VERBS = ["moved to", "opened a {t} in", "bought a {t} in", "teaches {t} lessons in", "repaired a {t} in"]


class InOrder:
    """Runs what is submitted at once: the question embedded before the keyword search starts, as
    search did before it overlapped the two (recall/search.py), to measure the difference."""

    def submit(self, fn, *args) -> Future:
        future = Future()
        future.set_result(fn(*args))
        return future


def name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def sentences(count: int, seed: int = 0) -> list[str]:
    """Made-up facts over a vocabulary about as varied as real notes (~14k first and last names,
    ~500 places), so keyword postings are not unrealistically long."""
    rng = random.Random(seed)
    firsts = [name(rng, rng.choice((2, 3))) for _ in range(2000)]
    lasts = [name(rng, 3) for _ in range(2000)]
    cities = [name(rng, 2) + "ville" for _ in range(500)]
    out = []
    for _ in range(count):
        verb = rng.choice(VERBS).format(t=rng.choice(THINGS))
        out.append(
            f"{rng.choice(firsts)} {rng.choice(lasts)} {verb} {rng.choice(cities)} in {rng.randint(1950, 2025)}."
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store", default=None, help="a postgresql:// URL (default: SQLite files)")
    args = parser.parse_args()
    backend = "postgres" if args.store else "sqlite"
    sizes = sorted(int(s) for s in args.sizes.split(","))
    console = Console()
    texts = sentences(max(sizes))
    asked = random.Random(1).sample(texts, args.queries)
    places = [re.search(r"\w+ville", t).group() for t in asked]
    queries = [f"What did {' '.join(t.split()[:2])} do in {place}?" for t, place in zip(asked, places)]
    rows = []
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(settings=Settings(data_dir=data, store=args.store))
        stored, ingest_seconds = 0, 0.0
        for size in sizes:
            items = [text_item(t, source=f"s{i}") for i, t in enumerate(texts[stored:size], start=stored)]
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"ingest to {size:,}", total=len(items))
                started = time.perf_counter()
                memory.ingest(items, "bench", lambda done, total: progress.update(task, completed=done))  # noqa: B023
                ingest_seconds = time.perf_counter() - started
            added = size - stored
            stored = size
            opened = memory.space("bench")
            store, index = opened.store, opened.vectors
            exact = VectorIndex(store, ann_min=10**12)
            started = time.perf_counter()
            approximate = index.wait_until_built()
            build_seconds = time.perf_counter() - started if approximate else None
            for query in queries[:20]:  # load the vector matrix; torch builds kernels per input shape once
                memory.search(query, "bench")
            vectors = memory.embedder.embed(queries)
            full, serial, dense, keyword, scan, overlap, keyword_overlap, filtered = [], [], [], [], [], [], [], []
            one_in_100 = np.arange(1, size + 1, 100, dtype=np.int64)  # a filter that lets 1% through
            for n, query in enumerate(queries):  # one after another, as a user's searches come
                for overlapped in (n % 2 == 0, n % 2 == 1):  # each also the old way; who goes first alternates
                    with patch.object(search, "_EMBEDDING", search._EMBEDDING if overlapped else InOrder()):
                        t0 = time.perf_counter()
                        memory.search(query, "bench", k=10)
                        (full if overlapped else serial).append(time.perf_counter() - t0)
            for query, vector in zip(queries, vectors):
                t1 = time.perf_counter()
                found = index.search(vector, 50)
                t2 = time.perf_counter()
                store.keyword_search(query, 50)
                t3 = time.perf_counter()
                truth = exact.search(vector, 50)
                t4 = time.perf_counter()
                dense.append(t2 - t1), keyword.append(t3 - t2), scan.append(t4 - t3)
                overlap.append(len({i for i, _ in found[:10]} & {i for i, _ in truth[:10]}) / 10)
                t5 = time.perf_counter()
                store.keyword_search(query, 50, one_in_100)
                filtered.append(time.perf_counter() - t5)
                if backend == "sqlite":
                    ranked = store.keyword_search(query, 10)
                    with patch.object(sqlite, "RANKED_ROWS", 10**12):
                        every_word = store.keyword_search(query, 10)
                    keyword_overlap.append(len(set(ranked) & set(every_word)) / max(1, len(every_word)))
            row = {
                "memories": size,
                "ingest_chunks_per_s": added / ingest_seconds,
                "hnsw": approximate,
                "hnsw_build_s": build_seconds,
                "hnsw_overlap_at_10": sum(overlap) / len(overlap),
                "search": percentiles(full),
                "search_embedding_first": percentiles(serial),
                "dense": percentiles(dense),
                "exact_scan": percentiles(scan),
                "keyword": percentiles(keyword),
                "keyword_filtered_1pct": percentiles(filtered),
                "keyword_overlap_at_10": sum(keyword_overlap) / len(keyword_overlap) if keyword_overlap else None,
            }
            rows.append(row)
            console.print(
                f"{size:,}: {row['ingest_chunks_per_s']:.0f} chunks/s, search p95 {row['search']['p95_ms']:.1f} ms"
            )
        memory.close()
    table = Table(
        "memories",
        "ingest chunks/s",
        "search p50 ms",
        "search p95 ms",
        "embedding first p50 / p95 ms",
        "dense p95 ms",
        "exact scan p95 ms",
        "HNSW build s",
        "HNSW overlap@10",
        "keyword p95 ms",
        "keyword overlap@10",
        "keyword, 1% filter p95 ms",
        title=f"imprint store ({backend}): ingest and search (k=10, 2 cores)",
    )
    for r in rows:
        table.add_row(
            f"{r['memories']:,}",
            f"{r['ingest_chunks_per_s']:.0f}",
            f"{r['search']['p50_ms']:.1f}",
            f"{r['search']['p95_ms']:.1f}",
            f"{r['search_embedding_first']['p50_ms']:.1f} / {r['search_embedding_first']['p95_ms']:.1f}",
            f"{r['dense']['p95_ms']:.1f}",
            f"{r['exact_scan']['p95_ms']:.1f}",
            f"{r['hnsw_build_s']:.1f}" if r["hnsw"] else "-",
            f"{r['hnsw_overlap_at_10']:.3f}" if r["hnsw"] else "-",
            f"{r['keyword']['p95_ms']:.1f}",
            "-" if r["keyword_overlap_at_10"] is None else f"{r['keyword_overlap_at_10']:.3f}",
            f"{r['keyword_filtered_1pct']['p95_ms']:.1f}",
        )
    console.print(table)
    name = "store" if backend == "sqlite" else "store_postgres"
    console.print(f"wrote {write_result(name, {'rows': rows, 'queries': args.queries, 'backend': backend})}")
    sizes = [r["memories"] for r in rows]
    plot = save_plot(
        f"{name}_search_latency",
        sizes,
        {
            "search p95 (with query embedding)": [r["search"]["p95_ms"] for r in rows],
            f"dense p95 (HNSW from {'20k' if backend == 'sqlite' else '5k'})": [r["dense"]["p95_ms"] for r in rows],
            "exact scan p95": [r["exact_scan"]["p95_ms"] for r in rows],
            f"keyword ({'FTS5' if backend == 'sqlite' else 'tsvector'}) p95": [r["keyword"]["p95_ms"] for r in rows],
        },
        "memories",
        "ms",
        f"search latency vs store size ({backend}, 2 cores)",
    )
    console.print(f"wrote {plot}")


if __name__ == "__main__":
    main()
