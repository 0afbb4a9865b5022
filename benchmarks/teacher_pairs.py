"""Teacher-written training pairs, small vs quality teacher: grounded question-answer pairs per memory.

    python benchmarks/teacher_pairs.py [--memories 20] [--seed 0] [--squad]

The memories are the documents of the generated world (`imprint bench --dataset world`), made up so
no model knows them, or with `--squad` the first SQuAD dev passages (longer: 4-9 sentences each). Each teacher
(`IMPRINT_TEACHER=local` in the small profile: Gemma 3 270M; in
the quality profile: Qwen2.5-Coder-1.5B-Instruct) writes pairs for each memory through the same
`TeacherSynthesizer.pairs` consolidation uses; a pair counts only when its answer is found in the
memory. Needs `imprint models install quality`.
"""

import argparse
import tempfile
import time

from common import SHARED_DATA, write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory, Settings
from imprint.bench.datasets import squad
from imprint.bench.world import world
from imprint.weights.synth import TeacherSynthesizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--squad", action="store_true", help="SQuAD passages instead of made-up facts")
    args = parser.parse_args()
    dataset = squad(SHARED_DATA / "squad" / "squad_dev300.json", args.memories) if args.squad else world(200, args.seed)
    items = [item for items in dataset.spaces.values() for item in items][: args.memories]
    results = {}
    for profile in ("small", "quality"):
        with tempfile.TemporaryDirectory() as data:
            memory = Memory(settings=Settings(data_dir=data, profile=profile, embedder="all-MiniLM-L6-v2"))
            memory.ingest(items, "w")
            memories = memory.list_memories("w", limit=args.memories)
            teacher = TeacherSynthesizer(memory.models.teacher("local", "teacher_pairs.py"))
            started = time.perf_counter()
            pairs = [teacher.pairs(m) for m in memories]
            seconds = time.perf_counter() - started
            memory.close()
        results[profile] = {
            "memories": len(memories),
            "grounded_pairs": sum(map(len, pairs)),
            "pairs_per_memory": sum(map(len, pairs)) / len(memories),
            "memories_with_a_pair": sum(bool(p) for p in pairs),
            "seconds": seconds,
            "seconds_per_memory": seconds / len(memories),
            "examples": [[m.text, p[:3]] for m, p in zip(memories[:3], pairs[:3])],
        }
    table = Table(
        "teacher",
        "memories",
        "grounded pairs",
        "per memory",
        "memories with one",
        "s per memory",
        title=f"Teacher-written pairs on {'SQuAD passages' if args.squad else 'made-up facts'}",
    )
    for profile, r in results.items():
        table.add_row(
            profile,
            str(r["memories"]),
            str(r["grounded_pairs"]),
            f"{r['pairs_per_memory']:.2f}",
            str(r["memories_with_a_pair"]),
            f"{r['seconds_per_memory']:.1f}",
        )
    Console().print(table)
    name = "teacher_pairs_squad" if args.squad else "teacher_pairs"
    print(f"wrote {write_result(name, {'seed': args.seed, 'squad': args.squad, 'results': results})}")


if __name__ == "__main__":
    main()
