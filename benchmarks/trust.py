"""Trust, measured: the cost of encryption at rest, the cost and effect of forgetting, and faults
injected with nothing lost.

    python benchmarks/trust.py [--memories 2000] [--kills 5] [--skip-weights]

1. Encryption: the same memories stored plain and encrypted (store level, so embedding time does
   not hide the cipher; and end to end through `Memory.add`). Ratios come from one run.
2. Deletion: time to forget one memory from a space of `--memories` (secure delete, keyword index
   merge, WAL truncation included); and from a consolidated space, with the weights probed for the
   fact before and after (Gemma 3 270M, a few made-up facts; skip with --skip-weights).
3. Faults: kill -9 during ingest at random moments, two processes writing at once, and a set of bad
   files (binary, invalid UTF-8, empty, malformed JSON, truncated PDF, over the size limit). After
   each: the store passes integrity_check, every counted memory has its vector and keyword entry,
   and nothing stored before is lost.
"""

import argparse
import multiprocessing
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from common import percentiles, write_result
from rich.console import Console
from rich.table import Table
from store import sentences

from imprint import Memory, Settings
from imprint.errors import ParseError
from imprint.forget import PROBE_QUESTIONS as FORGET_PROBE_QUESTIONS
from imprint.llm.embed import Embedder
from imprint.records import RawItem, Segment
from imprint.store.base import PreparedChunk
from imprint.store.crypto import decode_master_key, new_master_key
from imprint.store.sqlite import SqliteStore

console = Console()


def prepared(texts: list[str], dim: int = 384) -> list[tuple[RawItem, list[PreparedChunk]]]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(texts), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        (
            RawItem(source=f"note{i}", kind="text", content=t, segments=[Segment(t)]),
            [PreparedChunk(text=t, tokens=len(t.split()), vector=v)],
        )
        for i, (t, v) in enumerate(zip(texts, vectors))
    ]


def store_costs(folder: Path, texts: list[str], key: bytes | None) -> dict:
    """Add in batches of 256, then time keyword search, loading all vectors, fetching, forgetting."""
    store = SqliteStore(folder / ("enc.sqlite" if key else "plain.sqlite"), key)
    items = prepared(texts)
    started = time.perf_counter()
    for start in range(0, len(items), 256):
        store.add(items[start : start + 256])
    add_seconds = time.perf_counter() - started
    rng = random.Random(0)
    queries = [" ".join(rng.choice(texts).split()[:2]) for _ in range(100)]
    keyword = []
    for query in queries:
        t = time.perf_counter()
        store.keyword_search(query, 20)
        keyword.append(time.perf_counter() - t)
    t = time.perf_counter()
    store.vectors_after(0)
    load_seconds = time.perf_counter() - t
    fetch = []
    for _ in range(100):
        t = time.perf_counter()
        store.get(rng.sample(range(1, len(texts) + 1), 10))
        fetch.append(time.perf_counter() - t)
    forget = []
    for memory_id in rng.sample(range(1, len(texts) + 1), 10):
        t = time.perf_counter()
        store.delete_memory(memory_id)
        forget.append(time.perf_counter() - t)
    store.close()
    size = sum(p.stat().st_size for p in folder.glob(f"{'enc' if key else 'plain'}.sqlite*"))
    return {
        "add_per_memory_ms": add_seconds / len(texts) * 1000,
        "keyword_search": percentiles(keyword),
        "load_vectors_ms": load_seconds * 1000,
        "fetch_10": percentiles(fetch),
        "forget_one": percentiles(forget),
        "file_bytes": size,
    }


def end_to_end(folder: Path, texts: list[str], key: str | None, embedder: Embedder) -> dict:
    memory = Memory(settings=Settings(data_dir=folder / ("enc" if key else "plain"), key=key), embedder=embedder)
    t = time.perf_counter()
    for start in range(0, len(texts), 50):
        memory.ingest(
            [
                RawItem(source=f"n{start + i}", kind="text", content=x, segments=[Segment(x)])
                for i, x in enumerate(texts[start : start + 50])
            ],
            "s",
        )
    ingest = time.perf_counter() - t
    searches = []
    for text in texts[:50]:
        t = time.perf_counter()
        memory.search(" ".join(text.split()[:4]), "s", k=5)
        searches.append(time.perf_counter() - t)
    memory.close()
    return {"ingest_per_memory_ms": ingest / len(texts) * 1000, "search": percentiles(searches)}


def weights_deletion(folder: Path) -> dict:
    """Consolidate a few made-up facts, then forget one: seconds and the weights' recall of it."""
    from imprint.bench.datasets import fictional
    from imprint.weights.plan import Gate, TrainConfig

    memory = Memory(folder / "weights")
    facts = [item.content for items in fictional(6, seed=3).spaces.values() for item in items]
    ids = [memory.add(fact, space="s")[0] for fact in facts]
    report = memory.consolidate("s", TrainConfig(epochs=4), Gate(0, 0), log=lambda line: console.print("  " + line))
    memory.ask("warm up", "s", strategy="weights")  # the model and adapter are loaded before the clock starts
    t = time.perf_counter()
    forgotten = memory.forget(ids[0], "s")
    seconds = time.perf_counter() - t
    return {
        "facts": len(facts),
        "consolidate_seconds": report.train_seconds,
        "forget_seconds": seconds,
        "probe_questions": FORGET_PROBE_QUESTIONS,
        "adapter_versions_removed": forgotten.adapter_versions_removed,
        "weights_recall_before": forgotten.weights_recall_before,
        "weights_recall_after": forgotten.weights_recall_after,
    }


# --- faults ------------------------------------------------------------------------------------


def consistent(path: Path) -> tuple[bool, int]:
    """integrity_check passes and every memory has its vector and keyword entry, no orphan raw item."""
    with sqlite3.connect(path) as db:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        ok &= db.execute("SELECT count(*) FROM vectors").fetchone()[0] == chunks
        ok &= db.execute("SELECT count(*) FROM keywords").fetchone()[0] == chunks
        ok &= (
            db.execute(
                "SELECT count(*) FROM raw_items r WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.raw_id = r.id)"
            ).fetchone()[0]
            == 0
        )
    return ok, chunks


def kill_during_ingest(folder: Path, runs: int) -> dict:
    """Each run appends 1,500 notes in a child and is killed after a random number of committed batches."""
    rng = random.Random(0)
    survived, lost = 0, 0
    script = textwrap.dedent(f"""
        import sys
        from imprint import Memory
        from imprint.encode.parse import text_item
        run = int(sys.argv[1])
        items = [text_item(f"Run {{run}} note {{i}}: Person{{i}} moved to City{{i % 50}}.", f"r{{run}}n{{i}}")
                 for i in range(1500)]
        Memory({str(folder)!r}).ingest(items, "s", progress=lambda done, total: print(done, flush=True))
    """)
    committed = 0
    for run in range(runs):
        child = subprocess.Popen(
            [sys.executable, "-c", script, str(run)], text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        batches = rng.randint(1, 4)
        done = 0
        for n, line in enumerate(child.stdout, start=1):
            done = int(line)
            if n == batches:
                time.sleep(rng.uniform(0, 0.5))  # land anywhere inside the next batch
                child.send_signal(signal.SIGKILL)
                break
        child.wait(60)
        ok, chunks = consistent(folder / "s.sqlite")
        if child.returncode != -signal.SIGKILL:
            done = 1500  # it finished first: all of it counts
        committed += done
        lost += max(0, committed - chunks)
        committed = max(committed, chunks)  # a batch may commit between the last line and the kill
        survived += ok and chunks >= committed
        console.print(f"  kill {run + 1}/{runs}: {chunks} memories on disk, consistent={ok}")
    return {"kills": runs, "survived": survived, "memories_lost": lost}


def _writer(path: str, worker: int, count: int) -> None:
    store = SqliteStore(Path(path))
    for i, item in enumerate(prepared([f"worker {worker} fact {i}" for i in range(count)])):
        item[0].source = f"w{worker}-{i}"
        store.add([item])


def concurrent_writers(folder: Path, count: int = 200) -> dict:
    path = folder / "shared.sqlite"
    SqliteStore(path).close()
    workers = [multiprocessing.get_context("spawn").Process(target=_writer, args=(str(path), w, count)) for w in (0, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
    ok, chunks = consistent(path)
    return {"writers": 2, "writes": 2 * count, "stored": chunks, "lost": 2 * count - chunks, "consistent": ok}


def bad_inputs(folder: Path) -> dict:
    """Every bad file must raise ParseError (a clear message naming it) and leave the store as it was."""
    rng = random.Random(0)
    files = {
        "binary.txt": bytes(rng.randrange(256) for _ in range(2000)),
        "latin1.txt": "café crème".encode("latin-1"),
        "empty.txt": b"",
        "blank.md": b"   \n\n  ",
        "broken.json": b'{"turns": [',
        "shape.json": b'{"a": 1}',
        "turns.jsonl": b'{"speaker": "a"}\n',
        "cut.pdf": b"%PDF-1.4\n1 0 obj <<",
        "nul.md": b"text\x00\x00more",
        "huge.txt": b"x " * 600_000,
        "not-a-list.json": b'"just a string"',
        "html.html": b"<html><script>x</script>",
    }
    (folder / "bad").mkdir()
    memory = Memory(settings=Settings(data_dir=folder / "data", max_file_bytes=1_000_000))
    memory.add("A memory stored before the bad input.", space="s")
    clear, other = 0, []
    for name, data in files.items():
        path = folder / "bad" / name
        path.write_bytes(data)
        try:
            report = memory.add_paths([path], space="s")
            clear += len(report.errors) == 1 and name in str(report.errors[0])
        except ParseError:
            clear += 1
        except Exception as error:  # noqa: BLE001 - counting what is not a clear error is the point
            other.append(f"{name}: {error!r}")
    kept = memory.count("s") == 1 and memory.search("stored before", "s", k=1)[0].memory.text.startswith("A memory")
    memory.close()
    return {"bad_files": len(files), "clear_errors": clear, "other_errors": other, "store_unchanged": kept}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--skip-weights", action="store_true")
    args = parser.parse_args()
    texts = sentences(args.memories)
    key = new_master_key()
    result: dict = {"memories": args.memories}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        console.print("[bold]1. encryption at rest[/bold]")
        plain = store_costs(folder, texts, None)
        sealed = store_costs(folder, texts, decode_master_key(key, "key"))
        result["store"] = {"plain": plain, "encrypted": sealed}
        e2e_texts, embedder = texts[:300], Embedder()
        embedder.embed(e2e_texts[:50])  # warm up, so neither side pays for the first call
        result["end_to_end"] = {
            "plain": end_to_end(folder, e2e_texts, None, embedder),
            "encrypted": end_to_end(folder, e2e_texts, key, embedder),
        }
        console.print("[bold]2. deletion[/bold]")
        if not args.skip_weights:
            result["weights_deletion"] = weights_deletion(folder)
        console.print("[bold]3. faults[/bold]")
        (folder / "kills").mkdir()
        result["kill_during_ingest"] = kill_during_ingest(folder / "kills", args.kills)
        result["concurrent_writers"] = concurrent_writers(folder)
        result["bad_inputs"] = bad_inputs(folder)
    show(result)
    console.print(f"wrote {write_result('trust', result)}")


def show(result: dict) -> None:
    plain, sealed = result["store"]["plain"], result["store"]["encrypted"]
    table = Table(
        "measure", "plain", "encrypted", "ratio", title=f"Encryption at rest, {result['memories']:,} memories"
    )
    rows = [
        ("store add, ms/memory", plain["add_per_memory_ms"], sealed["add_per_memory_ms"]),
        ("keyword search p50, ms", plain["keyword_search"]["p50_ms"], sealed["keyword_search"]["p50_ms"]),
        ("load all vectors, ms", plain["load_vectors_ms"], sealed["load_vectors_ms"]),
        ("fetch 10 memories p50, ms", plain["fetch_10"]["p50_ms"], sealed["fetch_10"]["p50_ms"]),
        ("forget one p50, ms", plain["forget_one"]["p50_ms"], sealed["forget_one"]["p50_ms"]),
        ("file bytes", plain["file_bytes"], sealed["file_bytes"]),
    ]
    e2e = result["end_to_end"]
    rows += [
        (
            "ingest end to end, ms/memory",
            e2e["plain"]["ingest_per_memory_ms"],
            e2e["encrypted"]["ingest_per_memory_ms"],
        ),
        ("search end to end p50, ms", e2e["plain"]["search"]["p50_ms"], e2e["encrypted"]["search"]["p50_ms"]),
    ]
    for name, a, b in rows:
        table.add_row(name, f"{a:,.2f}", f"{b:,.2f}", f"{b / a:.2f}x")
    console.print(table)
    if "weights_deletion" in result:
        w = result["weights_deletion"]
        console.print(
            f"forget one fact from a consolidated space ({w['facts']} facts): {w['forget_seconds']:.1f} s "
            f"({w['probe_questions']} probe answers before and after included); adapter versions "
            f"removed {w['adapter_versions_removed']}; weights recall {w['weights_recall_before']:.0%} "
            f"before, {w['weights_recall_after']:.0%} after"
        )
    k, c, b = result["kill_during_ingest"], result["concurrent_writers"], result["bad_inputs"]
    faults = Table("fault", "injected", "survived", "lost", title="Faults")
    faults.add_row("kill -9 during ingest", str(k["kills"]), str(k["survived"]), f"{k['memories_lost']} memories")
    faults.add_row(
        "two writers at once", f"{c['writes']} writes", "yes" if c["consistent"] else "NO", f"{c['lost']} writes"
    )
    faults.add_row(
        "bad files",
        str(b["bad_files"]),
        f"{b['clear_errors']} clear errors",
        "none" if b["store_unchanged"] else "STORE CHANGED",
    )
    console.print(faults)
    for line in b["other_errors"]:
        console.print(f"[red]unclear error[/red] {line}")


if __name__ == "__main__":
    main()
