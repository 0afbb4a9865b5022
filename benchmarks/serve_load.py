"""Load on a running `imprint serve` (a real process on loopback): C concurrent clients.

    python benchmarks/serve_load.py [--clients 4] [--adds 25] [--searches 25] [--asks 3]

Phase 1: every client adds its own memories at once (concurrent writers, one SQLite file);
afterwards every one of them must be there. Phase 2: search. Phase 3: ask (index strategy, the
local model answers one request at a time). Prints p50/p95 per operation and the error count
(must be 0), writes JSON.
"""

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
from common import percentiles, write_result
from rich.console import Console
from rich.table import Table

from imprint.serve.launch import running_server

KEY = "k-load-0001-5c2e9a7b"
TOPICS = ["Tallinn", "Riga", "Vilnius", "Oslo", "Porto", "Lyon", "Graz", "Bergen"]


def run_clients(url: str, clients: int, per_client: int, request) -> tuple[list[float], int]:
    """Each client sends `per_client` requests in turn; returns every latency and the error count."""

    def one_client(number: int) -> tuple[list[float], int]:
        latencies, errors = [], 0
        with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600) as http:
            for i in range(per_client):
                started = time.perf_counter()
                response = request(http, number, i)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400
        return latencies, errors

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one_client, range(clients)))
    return [t for latencies, _ in results for t in latencies], sum(e for _, e in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--adds", type=int, default=25, help="memories added per client")
    parser.add_argument("--searches", type=int, default=25, help="searches per client")
    parser.add_argument("--asks", type=int, default=3, help="questions per client")
    args = parser.parse_args()
    console = Console()
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        keys = Path(folder) / "keys.json"
        keys.write_text(json.dumps({"keys": {KEY: ["load"]}}))
        with running_server(Path(folder) / "data", keys) as url:

            def add(http, client, i):
                text = f"Client {client} note {i}: person P{client}x{i} moved to {TOPICS[i % len(TOPICS)]}."
                return http.post("/spaces/load/memories", json={"text": text, "source": f"c{client}-{i}"})

            def search(http, client, i):
                return http.post("/spaces/load/search", json={"query": f"who moved to {TOPICS[i % 8]}", "k": 5})

            def ask(http, client, i):
                return http.post("/spaces/load/ask", json={"question": f"Where did P{client}x{i} move?"})

            for name, request, count in [
                ("add", add, args.adds),
                ("search", search, args.searches),
                ("ask", ask, args.asks),
            ]:
                started = time.perf_counter()
                latencies, errors = run_clients(url, args.clients, count, request)
                wall = time.perf_counter() - started
                rows[name] = {
                    "requests": len(latencies),
                    "errors": errors,
                    "per_second": len(latencies) / wall,
                    **percentiles(latencies),
                }
                console.print(f"{name}: {len(latencies)} requests, {errors} errors, {wall:.1f} s")
            total = httpx2.get(
                url + "/spaces/load/memories?limit=1", headers={"Authorization": f"Bearer {KEY}"}
            ).json()["total"]
    expected = args.clients * args.adds
    table = Table(
        "operation",
        "requests",
        "errors",
        "p50 ms",
        "p95 ms",
        "requests/s",
        title=f"imprint serve, {args.clients} concurrent clients, loopback",
    )
    for name, row in rows.items():
        table.add_row(
            name,
            str(row["requests"]),
            str(row["errors"]),
            f"{row['p50_ms']:.0f}",
            f"{row['p95_ms']:.0f}",
            f"{row['per_second']:.1f}",
        )
    console.print(table)
    console.print(
        f"memories stored: {total} of {expected} added ({'nothing lost' if total == expected else 'LOST SOME'})"
    )
    path = write_result(
        "serve_load",
        {"clients": args.clients, "operations": rows, "memories_expected": expected, "memories_stored": total},
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
