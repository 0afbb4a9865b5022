"""Several servers (and workers) on one Postgres database, under concurrent clients.

    python benchmarks/postgres_load.py --store postgresql://imprint@127.0.0.1:5432/imprint
                                       [--servers 1,2,4] [--clients 8] [--seconds 60] [--workers 0]

For each number of servers: start them (real `imprint serve` processes on loopback, all on the same
database), then `--clients` threads spread over the servers add memories (7 of 10 requests), search
(2 of 10) and ask (1 of 10, index strategy, the packaged model) for `--seconds`. With `--workers`,
that many `imprint worker` processes run and a consolidation is queued at the start, so training
competes for the CPU as it would in production. Afterwards: every acknowledged memory must be
stored once, and the servers must agree on a sample of them (what one server wrote, all serve):
each reads a memory by id with the same text and answers the same search with the same hits. Prints a table, writes
JSON and a plot of requests/s against servers.
"""

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
from common import percentiles, save_plot, write_result
from rich.console import Console
from rich.table import Table

from imprint.serve.launch import running_server

CITIES = ["Tallinn", "Riga", "Vilnius", "Oslo", "Porto", "Lyon", "Graz", "Bergen"]


def load(urls: list[str], space: str, clients: int, seconds: float) -> dict:
    """Clients hammer the servers for `seconds`; returns latencies, errors and what was stored."""
    latencies: dict[str, list[float]] = {"add": [], "search": [], "ask": []}
    errors: list[str] = []
    added: list[tuple[str, int]] = []  # (unique word, memory id) of every acknowledged add
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        http = httpx2.Client(base_url=urls[number % len(urls)], timeout=120)
        i = 0
        while time.monotonic() < deadline:
            i += 1
            roll = rng.random()
            word = f"zq{number}x{i}"
            started = time.perf_counter()
            try:
                if roll < 0.7:
                    kind = "add"
                    response = http.post(
                        f"/spaces/{space}/memories",
                        json={"text": f"Person {word} moved to {rng.choice(CITIES)} in {rng.randint(1990, 2024)}."},
                    )
                elif roll < 0.9:
                    kind = "search"
                    response = http.post(
                        f"/spaces/{space}/search", json={"query": f"who moved to {rng.choice(CITIES)}"}
                    )
                else:
                    kind = "ask"
                    response = http.post(
                        f"/spaces/{space}/ask", json={"question": f"Where did {word} move?", "strategy": "index"}
                    )
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code >= 400 and not (kind != "add" and response.status_code == 404):
                        errors.append(f"{kind} {response.status_code}: {response.text[:200]}")
                    else:
                        latencies[kind].append(elapsed)
                        if kind == "add":
                            added.append((word, response.json()["memory_ids"][0]))
            except httpx2.HTTPError as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    return {"latencies": latencies, "errors": errors, "added": added, "wall": wall}


def check(urls: list[str], space: str, added: list[tuple[str, int]], sample: int = 20) -> dict:
    """Every acknowledged memory stored once, and the servers agree: each reads a sample of them by
    id with the same text, and each answers the same search with the same hits in the same order."""
    clients = [httpx2.Client(base_url=url, timeout=120) for url in urls]
    total = clients[0].get(f"/spaces/{space}/memories?limit=1").json()["total"]
    ids = [memory_id for _, memory_id in added]
    picked = random.Random(0).sample(added, min(sample, len(added)))
    read = agreed = found = 0
    for word, memory_id in picked:
        texts = {client.get(f"/spaces/{space}/memories/{memory_id}").json().get("text") for client in clients}
        read += len(texts) == 1 and None not in texts
        rankings = [
            [
                hit["memory"]["id"]
                for hit in client.post(f"/spaces/{space}/search", json={"query": word, "k": 3}).json()["hits"]
            ]
            for client in clients
        ]
        agreed += all(ranking == rankings[0] for ranking in rankings)
        found += memory_id in rankings[0]
    for client in clients:
        client.close()
    return {
        "stored": total,
        "acknowledged": len(added),
        "distinct_ids": len(set(ids)),
        "read_alike_on_every_server": read / max(len(picked), 1),
        "same_hits_on_every_server": agreed / max(len(picked), 1),
        "found_by_its_word": found / max(len(picked), 1),
    }


def finished(url: str, job: str, timeout: float = 1200) -> dict:
    """The queued consolidation once it has ended (read from another server than the one that queued it)."""
    deadline = time.monotonic() + timeout
    while True:
        status = httpx2.get(url + f"/jobs/{job}", timeout=60).json()
        if status["status"] not in ("queued", "running", "cancelling") or time.monotonic() > deadline:
            return {
                "status": status["status"],
                "attempts": status["attempts"],
                "error": status["error"],
                "promoted": (status["result"] or {}).get("promoted"),
                "log": status["log"][-3:],
            }
        time.sleep(5)


@contextlib.contextmanager
def workers(count: int, env: dict) -> Iterator[list[subprocess.Popen]]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "imprint.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True, help="a postgresql:// URL")
    parser.add_argument("--servers", default="1,2,4")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    env = {**os.environ, "IMPRINT_STORE": args.store, "HF_HUB_OFFLINE": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env["IMPRINT_DATA_DIR"] = str(Path(folder) / "data")
        for count in [int(n) for n in args.servers.split(",")]:
            space = f"load-{count}-{int(time.time())}"
            with contextlib.ExitStack() as stack:
                urls = [
                    stack.enter_context(running_server(Path(folder) / "data", env={"IMPRINT_STORE": args.store}))
                    for _ in range(count)
                ]
                for url in urls:  # each server loads its models before the clock starts
                    httpx2.post(
                        url + f"/spaces/{space}/memories", json={"text": f"Warm-up note from {url}."}, timeout=300
                    )
                    httpx2.post(url + f"/spaces/{space}/ask", json={"question": "warm up?"}, timeout=300)
                queued = None
                if args.workers:
                    stack.enter_context(workers(args.workers, env))
                    queued = httpx2.post(
                        urls[0] + f"/spaces/{space}/consolidate",
                        json={"epochs": 1, "min_recall": 0, "min_retention": 0, "stable_days": 0, "min_uses": 0},
                    ).json()["job"]
                console.print(f"{count} server(s), {args.clients} clients, {args.seconds:.0f} s ...")
                result = load(urls, space, args.clients, args.seconds)
                checked = check(urls, space, result["added"])
                job = finished(urls[-1], queued) if queued else None
            requests = sum(len(v) for v in result["latencies"].values())
            rows.append(
                {
                    "servers": count,
                    "clients": args.clients,
                    "workers": args.workers,
                    "requests_per_s": requests / result["wall"],
                    "errors": len(result["errors"]),
                    "error_examples": result["errors"][:5],
                    "consolidation_job": job,
                    **{
                        kind: {"requests": len(v), **(percentiles(v) if v else {})}
                        for kind, v in result["latencies"].items()
                    },
                    "lost": checked["acknowledged"] + count - checked["stored"],
                    **checked,
                }
            )  # + warm-ups
            console.print(rows[-1] | {"error_examples": None})
    table = Table(
        "servers",
        "workers",
        "requests/s",
        "add p50/p95 ms",
        "search p50/p95 ms",
        "ask p50/p95 ms",
        "errors",
        "lost memories",
        "read alike",
        "same hits",
        "found by its word",
        "consolidation",
        title=f"imprint on one Postgres: {args.clients} clients for {args.seconds:.0f} s (2 cores)",
    )
    for r in rows:

        def pair(kind: str) -> str:
            return f"{r[kind]['p50_ms']:.0f} / {r[kind]['p95_ms']:.0f}" if r[kind]["requests"] else "-"  # noqa: B023

        table.add_row(
            str(r["servers"]),
            str(r["workers"]),
            f"{r['requests_per_s']:.1f}",
            pair("add"),
            pair("search"),
            pair("ask"),
            str(r["errors"]),
            str(r["lost"]),
            f"{r['read_alike_on_every_server']:.2f}",
            f"{r['same_hits_on_every_server']:.2f}",
            f"{r['found_by_its_word']:.2f}",
            r["consolidation_job"]["status"] if r["consolidation_job"] else "-",
        )
    console.print(table)
    name = "postgres_load" + (f"_workers{args.workers}" if args.workers else "")
    console.print(f"wrote {write_result(name, {'rows': rows})}")
    throughput = {"requests/s": [r["requests_per_s"] for r in rows]}
    title = "throughput against servers, one Postgres (2 cores)"
    plot = save_plot(name, [r["servers"] for r in rows], throughput, "servers", "requests/s", title, log=False)
    console.print(f"wrote {plot}")


if __name__ == "__main__":
    main()
