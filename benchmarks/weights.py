"""Consolidation into weights: accuracy before/after, retention, training cost, on three sets.

    python benchmarks/weights.py --dataset fictional [--limit 200]     # made-up facts
    python benchmarks/weights.py --dataset squad [--limit 20]          # closed-book SQuAD passages
    python benchmarks/weights.py --dataset counterfact [--limit 20]    # new facts that override old ones
    options: --epochs 6 --replay 1 --kl 1 --lr 5e-4 --rank 16 --modules gate_proj,up_proj,down_proj
             --distill 1 --hard 1 --open-book 0.5 --top-k 256 --teacher local|URL --seed 0 --index --cross-check
             --min-retention 0.95 --scales 0.9,0.8

--distill 0 trains on the gold answers only; --hard 0 on the teacher's distribution alone where it
read the answer (context distillation). --index also asks the index tier (memories retrieved into the
prompt) on the same questions, for the comparison the weights tier has to win, and after
consolidation hybrid (the same prompt, adapter on).

The documents are stored as memories and consolidated with `Memory.consolidate`; then each question
is put to the base model (adapter off) and to the adapter, with no memories in the prompt.
Fictional facts are asked with natural questions; some of them ("Who founded X?") are the very
inversions the synthesiser trains, others ("What is X's job?") are worded as no training row is, so
their scores are also given apart ("natural: trained wording" / "natural: new wording"). SQuAD
questions are the set's own. CounterFact prompts are sentence starts: `edit` and
`rephrase` should now give the new target, `locality` (other subjects) should keep the old truth.
Retention is measured by consolidation on held-out general control questions (adapter on vs off),
and here again on 192 general questions of benchmarks/data/general_questions.json that neither
training nor the gate ever sees (none shares its content words with a control question): with
--min-retention, consolidation shrinks an adapter short of the gate toward the base, choosing by the
control set, so only the second set measures the result without having been used to choose it.
The adapter is asked through the answer engine (llama.cpp with the converted adapter by default);
--cross-check asks it through transformers + peft as well (same answers, and the time of each).
"""

import argparse
import json
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from common import SHARED_DATA, write_result
from rich.console import Console
from rich.progress import track
from rich.table import Table

from imprint import Memory
from imprint.bench import datasets
from imprint.bench.runner import bare_prompt, judge
from imprint.prompt import answer_prompt, qa_prompt
from imprint.records import Chunk
from imprint.weights.control import correct
from imprint.weights.plan import REPLAY_REPEATS, Gate, TrainConfig
from imprint.weights.synth import TemplateSynthesizer

GENERAL = Path(__file__).parent / "data" / "general_questions.json"
PATHS = {
    "squad": SHARED_DATA / "squad" / "squad_dev300.json",
    "counterfact": SHARED_DATA / "counterfact" / "counterfact_evidence_dev300.json",
}


def load(name: str, limit: int, seed: int) -> datasets.Dataset:
    if name == "fictional":
        return datasets.fictional(limit, seed)
    return getattr(datasets, name)(PATHS[name], limit)


def score_answers(
    dataset: datasets.Dataset, label: str, say: Callable[[datasets.Question], str], groups: dict[str, str]
) -> tuple[dict[str, dict[str, float]], float]:
    """Per category, and per second group where `groups` gives a question one: exact match, token F1
    and 'contains' (the answer appears in what `say` said); and the seconds all the questions took."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    started = time.perf_counter()
    for q in track(dataset.questions, description=f"asking ({label})"):
        correct, exact, f1 = judge(say(q), q.answer, q.category)
        for group in [q.category] + ([groups[q.text]] if q.text in groups else []):
            row = sums[group]
            row["n"] += 1
            row["exact"] += exact
            row["f1"] += f1
            row["contains"] += correct
    scores = {c: {k: (v if k == "n" else v / row["n"]) for k, v in row.items()} for c, row in sorted(sums.items())}
    return scores, time.perf_counter() - started


def score(
    model, dataset: datasets.Dataset, adapter, label: str, groups: dict[str, str]
) -> tuple[dict[str, dict[str, float]], float]:
    """The model (with `adapter`, or the base for None) asked each question with no memories."""
    return score_answers(dataset, label, lambda q: model.generate(bare_prompt(q), 24, adapter=adapter).text, groups)


def base_knows(model) -> list[tuple[str, str]]:
    """The general questions the base model (no adapter) answers right."""
    questions = [tuple(pair) for pair in json.loads(GENERAL.read_text())]
    return [pair for pair, right in zip(questions, answered_right(model, questions, None)) if right]


def answered_right(model, pairs: list[tuple[str, str]], adapter) -> list[bool]:
    """Each question asked as consolidation asks its control questions: does the answer say the gold?"""
    said = [model.generate(qa_prompt(q), 16, adapter=adapter).text for q, _ in pairs]
    return correct(said, [gold for _, gold in pairs])


def general_retention(model, adapter, known: list[tuple[str, str]]) -> dict[str, object]:
    """Of the general questions the base answers right (`known`), how many it still does with the adapter."""
    kept = answered_right(model, known, adapter)
    return {
        "questions": len(json.loads(GENERAL.read_text())),
        "known": len(known),
        "kept": sum(kept),
        "retention": sum(kept) / len(known) if known else 1.0,
        "forgotten": [q for (q, _), still in zip(known, kept) if not still],
    }


def score_scaled(
    model,
    dataset: datasets.Dataset,
    adapter: Path,
    factor: float,
    groups: dict[str, str],
    scratch: Path,
    known: list[tuple[str, str]],
) -> dict[str, object]:
    """The natural questions and the general set again, with the adapter's delta times `factor` (a
    copy of it, its B matrices scaled as consolidation's shrink does)."""
    from safetensors.torch import load_file, save_file

    folder = scratch / f"scaled-{factor:g}"
    folder.mkdir()
    shutil.copy(adapter / "adapter_config.json", folder)
    weights = load_file(adapter / "adapter_model.safetensors")
    save_file({k: v * factor if "lora_B" in k else v for k, v in weights.items()}, folder / "adapter_model.safetensors")
    return {
        "answers": score(model, dataset, folder, f"adapter x{factor:g}", groups)[0],
        "general_retention": general_retention(model, folder, known),
    }


def score_open_book(model, dataset: datasets.Dataset, groups: dict[str, str]) -> dict[str, dict[str, float]] | None:
    """The same reader with the question's own passage in the context tier's prompt: what the
    adapter should match closed book."""
    if not all(q.evidence for q in dataset.questions):
        return None

    def read(q: datasets.Question) -> str:
        passage = Chunk(0, 0, "evidence", q.evidence, None, None, 0, {}, "")
        return model.generate(answer_prompt([passage], q.text), 24).text

    return score_answers(dataset, "open book", read, groups)[0]


def score_tier(
    memory: Memory, dataset: datasets.Dataset, strategy: str, groups: dict[str, str]
) -> dict[str, dict[str, float]]:
    """A retrieval tier on the same questions: "index" (the top memories in the prompt, no adapter)
    or, after consolidation, "hybrid" (the same prompt, adapter on)."""
    return score_answers(dataset, strategy, lambda q: memory.ask(q.text, "bench", strategy).text, groups)[0]


def group_by_wording(memory: Memory, dataset: datasets.Dataset, config: TrainConfig) -> dict[str, str]:
    """Question -> whether a training row asks it word for word (the same synthesiser and seed as
    the consolidation)."""
    memories = memory.list_memories("bench", limit=memory.count("bench"))
    trained = {
        row.question for row in TemplateSynthesizer(config.seed, open_book=config.open_book).synthesize(memories).train
    }
    return {q.text: f"{q.category}: {'trained' if q.text in trained else 'new'} wording" for q in dataset.questions}


def result_name(
    dataset: str, limit: int | str, replay: int, kl: float, lr: float, distill: float, hard: float, open_book: float
) -> str:
    """A run's result name from its settings (main adds a suffix for non-default LoRA, top-k, teacher);
    weights_by_size.py finds the runs at the defaults by it."""
    return (
        f"weights_{dataset}_{limit}_replay{replay}_kl{kl:g}_lr{lr:g}_distill{distill:g}_hard{hard:g}_open{open_book:g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=["fictional", "squad", "counterfact"], default="fictional")
    parser.add_argument("--limit", type=int, default=200, help="facts, passages or cases")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--replay", type=int, default=REPLAY_REPEATS, help="replay repeats per epoch (0: none)")
    parser.add_argument(
        "--kl", type=float, default=TrainConfig.kl_weight, help="KL weight toward the base on replay rows"
    )
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--rank", type=int, default=TrainConfig.r)
    parser.add_argument("--modules", default=",".join(TrainConfig.target_modules), help="LoRA target modules")
    parser.add_argument("--distill", type=float, default=TrainConfig.distill_weight, help="KL weight to the teacher")
    parser.add_argument("--hard", type=float, default=TrainConfig.hard_weight, help="gold cross-entropy weight")
    parser.add_argument("--open-book", type=float, default=TrainConfig.open_book, help="share of open-book rows")
    parser.add_argument(
        "--top-k", type=int, default=TrainConfig.top_k, help="teacher and base tokens kept per answer token"
    )
    parser.add_argument(
        "--index", action="store_true", help="also answer with the index tier, and after consolidation with hybrid"
    )
    parser.add_argument("--teacher", default=None, help="'local' or an OpenAI-compatible URL")
    parser.add_argument(
        "--cross-check",
        action="store_true",
        help="also answer with transformers + peft (the same adapter; 4-10 more minutes)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scales",
        type=lambda text: [float(s) for s in text.split(",")],
        default=[],
        help="also answer with the trained adapter's delta scaled by each of these (e.g. 0.9,0.8)",
    )
    parser.add_argument(
        "--min-retention",
        type=float,
        default=0.0,
        help="the gate's retention: an adapter short of it is shrunk toward the base while its "
        "probe passes (default 0: every adapter is kept as trained)",
    )
    args = parser.parse_args()
    console = Console()
    dataset = load(args.dataset, args.limit, args.seed)
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        for space, items in dataset.spaces.items():
            memory.ingest(items, space)
        config = TrainConfig(
            epochs=args.epochs,
            seed=args.seed,
            lr=args.lr,
            kl_weight=args.kl,
            r=args.rank,
            lora_alpha=2 * args.rank,
            target_modules=tuple(args.modules.split(",")),
            distill_weight=args.distill,
            hard_weight=args.hard,
            open_book=args.open_book,
            top_k=args.top_k,
        )
        groups = group_by_wording(memory, dataset, config) if args.dataset == "fictional" else {}
        before, _ = score(memory.answerer, dataset, None, "base", groups)
        index = score_tier(memory, dataset, "index", groups) if args.index else None
        open_book = score_open_book(memory.answerer, dataset, groups)
        started = time.perf_counter()
        report = memory.consolidate(
            "bench",
            config,
            Gate(Gate.min_probe_recall if args.min_retention else 0.0, args.min_retention),
            replay_repeats=args.replay,
            log=console.print,
            teacher=args.teacher,
        )
        wall = time.perf_counter() - started
        adapter = memory.adapters("bench").readable(report.version)
        after, seconds = score(memory.answerer, dataset, adapter, "adapter", groups)
        known = base_knows(memory.answerer)
        general = general_retention(memory.answerer, adapter, known)
        scaled = {
            scale: score_scaled(memory.answerer, dataset, adapter, scale / report.scale, groups, Path(data), known)
            for scale in args.scales
        }
        hybrid = score_tier(memory, dataset, "hybrid", groups) if args.index and report.promoted else None
        if args.index and not report.promoted:
            console.print(f"hybrid not asked: {report.reason} (hybrid answers with the current adapter)")
        engines = {type(memory.answerer).__name__: seconds}
        cross_check = args.cross_check and memory.answerer is not memory.model
        if cross_check:
            after_transformers, engines["LocalModel (transformers)"] = score(
                memory.model, dataset, adapter, "adapter, transformers", groups
            )
            same = {c: after_transformers[c]["contains"] == after[c]["contains"] for c in after_transformers}
            console.print(f"transformers + peft with the same adapter: {after_transformers} (same 'contains': {same})")

    table = Table(
        "category",
        "questions",
        "before (contains)",
        "after (contains)",
        "before EM",
        "after EM",
        "before F1",
        "after F1",
        "open book (contains)",
        "open book EM",
        "index (contains)",
        "hybrid (contains)",
        title=f"{args.dataset}: {dataset.documents} documents into weights",
    )
    for category in before:
        b, a = before[category], after[category]
        table.add_row(
            category,
            str(int(b["n"])),
            f"{b['contains']:.0%}",
            f"{a['contains']:.0%}",
            f"{b['exact']:.0%}",
            f"{a['exact']:.0%}",
            f"{b['f1']:.2f}",
            f"{a['f1']:.2f}",
            f"{open_book[category]['contains']:.0%}" if open_book else "-",
            f"{open_book[category]['exact']:.0%}" if open_book else "-",
            f"{index[category]['contains']:.0%}" if index else "-",
            f"{hybrid[category]['contains']:.0%}" if hybrid else "-",
        )
    console.print(table)
    console.print(
        f"{report.distilled_examples} rows with a teacher target ({report.teacher_seconds:.0f} s), "
        f"trained in {report.dtype}"
    )
    console.print(
        f"probe recall {report.probe_recall:.0%}, retention {report.retention:.0%}, "
        f"{report.train_examples} + {report.replay_examples} replay examples, {report.epochs_run} epochs, "
        f"train {report.train_seconds:.0f} s ({report.examples_per_second:.1f} examples/s), "
        f"consolidate {wall:.0f} s, adapter {report.adapter_bytes / 1e6:.1f} MB"
    )
    console.print(
        f"adapter at {report.scale:g} of its trained delta; general questions never used: "
        f"{general['kept']}/{general['known']} of the base's right answers kept "
        f"({general['retention']:.0%})"
    )
    for scale, scores in scaled.items():
        answered = ", ".join(f"{group} {row['contains']:.0%}" for group, row in scores["answers"].items())
        console.print(
            f"delta x{scale:g}: {answered}; general questions kept {scores['general_retention']['retention']:.0%}"
        )
    console.print(
        "answering every question with the adapter: " + ", ".join(f"{k} {v:.1f} s" for k, v in engines.items())
    )
    row = {
        "dataset": args.dataset,
        "documents": dataset.documents,
        "questions": len(dataset.questions),
        "replay_repeats": args.replay,
        "kl_weight": args.kl,
        "lr": args.lr,
        "teacher": args.teacher,
        "distill_weight": args.distill,
        "hard_weight": args.hard,
        "open_book_share": args.open_book,
        "top_k": args.top_k,
        "distilled_examples": report.distilled_examples,
        "teacher_seconds": report.teacher_seconds,
        "dtype": report.dtype,
        "index": index,
        "hybrid": hybrid,
        "open_book_reference": open_book,
        "rank": args.rank,
        "modules": args.modules,
        "before": before,
        "after": after,
        "probe_recall": report.probe_recall,
        "retention": report.retention,
        "train_seconds": report.train_seconds,
        "consolidate_seconds": wall,
        "train_examples": report.train_examples,
        "replay_examples": report.replay_examples,
        "examples_per_second": report.examples_per_second,
        "epochs": report.epochs_run,
        "adapter_bytes": report.adapter_bytes,
        "losses": report.losses,
        "answer_seconds_by_engine": engines,
        "forgotten": report.forgotten,
        "scale": report.scale,
        "shrinks": report.shrinks,
        "general_retention": general,
        "scaled": scaled,
    }
    if cross_check:
        row["after_transformers"] = after_transformers
    name = result_name(args.dataset, args.limit, args.replay, args.kl, args.lr, args.distill, args.hard, args.open_book)
    if args.modules != ",".join(TrainConfig.target_modules) or args.rank != TrainConfig.r:
        name += f"_r{args.rank}_{args.modules.replace(',', '+')}"
    if args.top_k != TrainConfig.top_k:
        name += f"_top{args.top_k}"
    if args.teacher:
        name += "_teacher"
    if args.min_retention:
        name += f"_minret{args.min_retention:g}"
    console.print(f"wrote {write_result(name, row)}")


if __name__ == "__main__":
    main()
