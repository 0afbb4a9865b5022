"""Where a consolidation's time goes, and what its batching saves: one process, the same rows.

    python benchmarks/training_speed.py [--facts 200]

Synthesises the training rows of `--facts` made-up facts as `Memory.consolidate` does, then times
(a) the teacher on the first 400 rows with the tokens a batch shares run once, and per row;
(b) one epoch of forward and backward passes three ways: batches sorted by length within windows
of 8 batches and every row run whole (before 050fe0e), sorted by length over all rows, and sorted
with each batch's shared start (open-book rows: instructions and worked examples) run once.
Prints a table and writes training_speed.json.
"""

import argparse
import random
import tempfile
import time

from common import write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory
from imprint.bench import datasets
from imprint.weights import consolidate as consolidation
from imprint.weights import distill, train
from imprint.weights.plan import Gate, TrainConfig


def windowed_batches(rows: list, batch_size: int, rng: random.Random) -> list[list]:
    """The batching before 050fe0e: rows shuffled, sorted by length within windows of 8 batches."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    window = batch_size * 8
    batches = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: len(rows[i][0]))
        batches += [[rows[i] for i in part[j : j + batch_size]] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def whole(model, rows):
    return rows, None


class Measured(Exception):
    pass


def measure(memories, timings: dict, model, tokenizer, rows_to_train, probe, config, log=print, soft_targets=None):
    """Stands in for `train_adapter` inside `consolidate`: times, then stops the consolidation."""
    shared = train.run_shared_prefix
    try:
        for name, run in [("teacher, shared start once per batch", shared), ("teacher, every row whole", whole)]:
            train.run_shared_prefix = run
            started = time.perf_counter()
            distill.teacher_targets(
                model, tokenizer, rows_to_train[:400], memories, config.top_k, None, log=lambda line: None
            )
            timings[name] = time.perf_counter() - started
        rows = [
            (ids, labels, pair.kind == "replay", None)
            for (ids, labels), pair in zip(train.encode(tokenizer, rows_to_train, config.max_length), rows_to_train)
        ]
        for name, batches in [("windows", windowed_batches), ("sorted", train.bucketed_batches)]:
            timings[f"padded tokens, {name}"] = sum(
                len(batch) * max(len(row[0]) for row in batch) for batch in batches(rows, 8, random.Random(0))
            )
        timings["tokens"] = sum(len(r[0]) for r in rows)
        plain = TrainConfig(kl_weight=0, distill_weight=0)
        for name, batches, run in [
            ("epoch, windows, every row whole", windowed_batches, whole),
            ("epoch, sorted, every row whole", train.bucketed_batches, whole),
            ("epoch, sorted, shared start once (the default)", train.bucketed_batches, shared),
        ]:
            started = time.perf_counter()
            for batch in batches(rows, 8, random.Random(0)):
                rest, past = run(model, batch)
                train._loss(model, train.collate(rest, tokenizer.pad_token_id or 0), plain, past).backward()
                model.zero_grad(set_to_none=True)
            timings[name] = time.perf_counter() - started
            print(f"{name}: {timings[name]:.0f} s", flush=True)
    finally:
        train.run_shared_prefix = shared
    raise Measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=200)
    args = parser.parse_args()
    timings: dict = {}
    original = consolidation.consolidate

    def consolidate_and_measure(memories, *rest, **options):
        consolidation.train_adapter = lambda *a, **k: measure(memories, timings, *a, **k)
        return original(memories, *rest, **options)

    consolidation.consolidate = consolidate_and_measure
    dataset = datasets.fictional(args.facts, 0)
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        for space, items in dataset.spaces.items():
            memory.ingest(items, space)
        try:
            memory.consolidate("bench", TrainConfig(distill_weight=0), Gate(0.0, 0.0), log=print)
        except Measured:
            pass
        memory.close()
    seconds = {k: v for k, v in timings.items() if "token" not in k}
    table = Table(
        "step",
        "seconds",
        "speed-up over every row whole (teacher) / windows (epoch)",
        title=f"{args.facts} facts: time per step",
    )
    for name, value in seconds.items():
        reference = (
            seconds["teacher, every row whole"]
            if name.startswith("teacher")
            else seconds["epoch, windows, every row whole"]
        )
        table.add_row(name, f"{value:.1f}", f"{reference / value:.2f}")
    Console().print(table)
    print(
        f"tokens {timings['tokens']}, padded: windows {timings['padded tokens, windows']}, "
        f"sorted {timings['padded tokens, sorted']}"
    )
    print(f"wrote {write_result('training_speed', {'facts': args.facts, **timings})}")


if __name__ == "__main__":
    main()
