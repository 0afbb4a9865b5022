"""Answer latency of `context` vs `index`, and of llama.cpp vs transformers, on the same LoCoMo questions.

    python benchmarks/answer_latency.py [--questions 8] [--k 5]
        [--runs llama.cpp:index,llama.cpp:context,transformers:index]

One LoCoMo conversation is stored turn by turn; each question (categories 1-4, the first N) is
answered by the packaged model per run (engine:strategy): `index` (top k memories) and `context`
(every memory that fits the model's window, most relevant first). Token F1 against the gold
answer is reported too. transformers:context is left out by default: it took over 5 minutes per
23k-token prompt here.
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

from imprint import Memory, Settings
from imprint.bench.metrics import token_f1
from imprint.encode.parse import conversation_item


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", type=Path, default=SHARED_DATA / "locomo" / "locomo_dev2.json")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--runs", default="llama.cpp:index,llama.cpp:context,transformers:index")
    args = parser.parse_args()
    console = Console()
    sample = json.loads(args.path.read_text())[0]
    questions = [q for q in sample["qa"] if q.get("category") in (1, 2, 3, 4)][: args.questions]
    rows = {}
    space = sample["sample_id"]
    with tempfile.TemporaryDirectory() as data:
        Memory(data).ingest([conversation_item(conversation_turns(sample), space)], space)
        memories = {}
        for run in args.runs.split(","):
            engine, strategy = run.split(":")
            if engine not in memories:  # one Memory per engine, on the same store
                memories[engine] = Memory(settings=Settings(data_dir=Path(data), engine=engine))
                memories[engine].ask("warm up", space, "index")  # load the model before timing
            seconds, tokens, f1 = [], [], []
            for q in track(questions, description=f"{run:>20}", console=console):
                answer = memories[engine].ask(q["question"], space, strategy, k=args.k)
                seconds.append(answer.timings["total_s"])
                tokens.append(answer.prompt_tokens)
                f1.append(token_f1(answer.text, str(q["answer"])))
            rows[run] = {**percentiles(seconds), "prompt_tokens": statistics.mean(tokens), "f1": statistics.mean(f1)}
        for memory in memories.values():
            memory.close()
    ratios = {
        f"{a} / {b}": rows[a]["p50_ms"] / rows[b]["p50_ms"]
        for a, b in (
            ("llama.cpp:context", "llama.cpp:index"),
            ("transformers:index", "llama.cpp:index"),
            ("transformers:context", "llama.cpp:context"),
        )
        if a in rows and b in rows
    }
    table = Table(
        "engine:strategy",
        "p50 s",
        "p95 s",
        "prompt tokens",
        "token F1",
        title=f"LoCoMo {space}: {len(questions)} questions; p50 ratios: "
        + ", ".join(f"{name} = {value:.1f}x" for name, value in ratios.items()),
    )
    for run, r in rows.items():
        table.add_row(
            run, f"{r['p50_ms'] / 1000:.2f}", f"{r['p95_ms'] / 1000:.2f}", f"{r['prompt_tokens']:.0f}", f"{r['f1']:.3f}"
        )
    console.print(table)
    result = {"questions": len(questions), "k": args.k, "rows": rows, "p50_ratios": ratios}
    console.print(f"wrote {write_result('answer_latency', result)}")


if __name__ == "__main__":
    main()
