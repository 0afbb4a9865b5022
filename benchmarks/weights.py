"""Consolidation on made-up facts: recall from weights before/after, retention, training cost.

    python benchmarks/weights.py [--facts 200] [--epochs 6] [--replay 3] [--kl 0] [--lr 1e-3]

Facts are about fictional people and organisations (seeded), so the base model cannot know them.
They are stored as memories, consolidated with `Memory.consolidate`, and then asked with natural
questions that the template synthesiser never produces ("Who founded X?" vs its "Who was founded
by Y in 1987?"): that is the held-out phrasing test. Retention is measured by consolidation on
general questions the base model answers (adapter on vs off).
"""

import argparse
import random
import re
import tempfile
import time

from common import write_result
from rich.console import Console
from rich.table import Table

from imprint import Memory
from imprint.weights.consolidate import REPLAY_REPEATS, Gate
from imprint.weights.train import TrainConfig, qa_prompt

SYLLABLES = "ka lo mi ra ten vo su de bri an el or ul fa ne ti go ha ze pe ru si ko la".split()
JOBS = "pilot nurse baker architect chemist carpenter lawyer violinist geologist chef".split()
ANIMALS = "cat dog parrot tortoise rabbit horse".split()


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def fictional_facts(count: int, seed: int = 0) -> list[tuple[str, list[tuple[str, str]]]]:
    """(fact sentence, [(natural question, answer)]) for `count` made-up facts."""
    rng = random.Random(seed)
    facts = []
    for i in range(count):
        person = f"{_name(rng, 2)} {_name(rng, 3)}"
        org = f"{_name(rng, 3)} {rng.choice(['Industries', 'Labs', 'Works', 'Group'])}"
        city = _name(rng, 2) + "ville"
        kind = i % 4
        if kind == 0:
            year = str(rng.randint(1900, 2020))
            facts.append((f"{org} was founded by {person} in {year}.",
                          [(f"Who founded {org}?", person), (f"When was {org} founded?", year)]))
        elif kind == 1:
            facts.append((f"{person} lives in {city}.", [(f"Where does {person} live?", city)]))
        elif kind == 2:
            job = rng.choice(JOBS)
            facts.append((f"{person} works as a {job} at {org}.",
                          [(f"What is {person}'s job?", job), (f"Which company does {person} work for?", org)]))
        else:
            animal, pet = rng.choice(ANIMALS), _name(rng, 2)
            facts.append((f"{person} has a {animal} named {pet}.", [(f"What is the name of {person}'s {animal}?", pet)]))
    return facts


def normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def recall(memory: Memory, questions: list[tuple[str, str]], adapter) -> float:
    hits = 0
    for question, answer in questions:
        said = memory.model.generate(qa_prompt(question), 24, adapter=adapter).text
        hits += normalise(answer) in normalise(said)
    return hits / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--replay", type=int, default=REPLAY_REPEATS, help="replay repeats per epoch (0: none)")
    parser.add_argument("--kl", type=float, default=0.0, help="KL weight toward the base on replay rows")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    facts = fictional_facts(args.facts, args.seed)
    questions = [qa for _, qas in facts for qa in qas]
    with tempfile.TemporaryDirectory() as data:
        memory = Memory(data)
        for sentence, _ in facts:
            memory.add(sentence, space="world")
        before = recall(memory, questions, adapter=None)
        started = time.perf_counter()
        report = memory.consolidate("world", TrainConfig(epochs=args.epochs, seed=args.seed, lr=args.lr, kl_weight=args.kl),
                                    Gate(0.0, 0.0), replay_repeats=args.replay, log=console.print)
        wall = time.perf_counter() - started
        adapter = memory.adapters("world").path(report.version)
        after = recall(memory, questions, adapter=adapter)
    row = {"facts": args.facts, "questions": len(questions), "replay_repeats": args.replay, "kl_weight": args.kl,
           "lr": args.lr,
           "natural_recall_before": before, "natural_recall_after": after,
           "probe_recall": report.probe_recall, "retention": report.retention,
           "train_seconds": report.train_seconds, "consolidate_seconds": wall,
           "examples": report.train_examples + report.replay_examples,
           "examples_per_second": report.examples_per_second, "epochs": report.epochs_run,
           "adapter_bytes": report.adapter_bytes, "losses": report.losses}
    table = Table("facts", "replay x", "KL", "natural Q before", "natural Q after", "probe (held-out template)",
                  "retention", "train s", "examples/s", "adapter MB", title="consolidation on fictional facts")
    table.add_row(str(args.facts), str(args.replay), str(args.kl), f"{before:.0%}", f"{after:.0%}", f"{report.probe_recall:.0%}",
                  f"{report.retention:.0%}", f"{report.train_seconds:.0f}", f"{report.examples_per_second:.1f}",
                  f"{report.adapter_bytes / 1e6:.1f}")
    console.print(table)
    name = f"weights_fictional_{args.facts}_replay{args.replay}_kl{args.kl:g}_lr{args.lr:g}"
    console.print(f"wrote {write_result(name, row)}")


if __name__ == "__main__":
    main()
