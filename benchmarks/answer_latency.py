"""Answer latency of `context` vs `index` on the same LoCoMo questions, as a ratio.

    python benchmarks/answer_latency.py [--questions 8] [--k 5]

One LoCoMo conversation is stored turn by turn; each question (categories 1-4, the first N) is
answered twice by the packaged model: `index` (top k memories) and `context` (every memory that
fits the model's window, most relevant first). Token F1 against the gold answer is reported too.
"""

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from common import SHARED_DATA, percentiles, write_result
from locomo_recall import conversation_turns
from rich.console import Console
from rich.progress import track
from rich.table import Table

from imprint import Memory
from imprint.bench.metrics import token_f1
from imprint.encode.parse import conversation_item


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", type=Path, default=SHARED_DATA / "locomo" / "locomo_dev2.json")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    console = Console()
    sample = json.loads(args.path.read_text())[0]
    questions = [q for q in sample["qa"] if q.get("category") in (1, 2, 3, 4)][: args.questions]
    rows = {}
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        space = sample["sample_id"]
        memory.ingest([conversation_item(conversation_turns(sample), space)], space)
        memory.ask("warm up", space, "index")  # load the model before timing
        for strategy in ("index", "context"):
            seconds, tokens, f1 = [], [], []
            for q in track(questions, description=f"{strategy:>7}", console=console):
                answer = memory.ask(q["question"], space, strategy, k=args.k)
                seconds.append(answer.timings["total_s"])
                tokens.append(answer.prompt_tokens)
                f1.append(token_f1(answer.text, str(q["answer"])))
            rows[strategy] = {**percentiles(seconds), "prompt_tokens": statistics.mean(tokens), "f1": statistics.mean(f1)}
        memory.close()
    ratio = rows["context"]["p50_ms"] / rows["index"]["p50_ms"]
    table = Table("strategy", "p50 s", "p95 s", "prompt tokens", "token F1",
                  title=f"LoCoMo {space}: {len(questions)} questions; context/index latency = {ratio:.1f}x")
    for strategy, r in rows.items():
        table.add_row(strategy, f"{r['p50_ms'] / 1000:.2f}", f"{r['p95_ms'] / 1000:.2f}", f"{r['prompt_tokens']:.0f}", f"{r['f1']:.3f}")
    console.print(table)
    console.print(f"wrote {write_result('answer_latency', {'questions': len(questions), 'k': args.k, 'rows': rows, 'context_over_index': ratio})}")


if __name__ == "__main__":
    main()
