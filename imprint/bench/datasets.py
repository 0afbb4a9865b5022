"""Benchmark sets as documents to remember plus questions to ask, from files in their public formats.

Every loader reads any path in the same format, so other slices of a set run unchanged.
`kind` says how a question is put to a model: "qa" (a question; the answer follows "Answer:") or
"completion" (a sentence start the model continues, as CounterFact's prompts are).
"""

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..encode.parse import conversation_item, locomo_sessions, locomo_turn, text_item
from ..errors import InputError
from ..records import RawItem

SPACE = "bench"


@dataclass
class Question:
    text: str
    answer: str
    category: str
    kind: str = "qa"
    space: str = SPACE
    evidence: str | None = None  # the passage that answers it, where a set says: the open-book reference
    sources: tuple[str, ...] = ()  # the documents that answer it, where a set knows (world)


@dataclass
class Dataset:
    name: str
    spaces: dict[str, list[RawItem]]  # what to remember, per space
    questions: list[Question] = field(default_factory=list)

    @property
    def documents(self) -> int:
        return sum(len(items) for items in self.spaces.values())


def _texts(pairs: list[tuple[str, str]]) -> dict[str, list[RawItem]]:
    return {SPACE: [text_item(text, source) for source, text in pairs]}


def _read_json(path: Path) -> list:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read benchmark file {path}: {error}") from error
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list")
    return data


def squad(path: Path, limit: int | None = None) -> Dataset:
    """SQuAD as `[{title, context, questions: [{question, answer}]}]`: closed book once trained."""
    passages = _read_json(path)[:limit]
    return Dataset(
        "squad",
        _texts([(f"{p['title']}#{i}", p["context"]) for i, p in enumerate(passages)]),
        [
            Question(q["question"], str(q["answer"]), "closed-book", evidence=p["context"])
            for p in passages
            for q in p["questions"]
        ],
    )


def counterfact(path: Path, limit: int | None = None) -> Dataset:
    """CounterFact with evidence: the passage asserts target_new; `edit` and `rephrase` prompts should
    now give it, `locality` prompts (other subjects) should keep their old truth."""
    cases = _read_json(path)[:limit]
    questions = []
    for case in cases:
        questions += [
            Question(case["prompt"], case["target_new"], "edit", "completion"),
            Question(case["rephrase_prompt"], case["target_new"], "rephrase", "completion"),
            Question(case["locality_prompt"], case["locality_ground_truth"], "locality", "completion"),
        ]
    return Dataset("counterfact", _texts([(f"case-{c['case_id']}", c["fake_evidence"]) for c in cases]), questions)


LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
UNANSWERABLE = "unknown"


def locomo(path: Path, limit: int | None = None) -> Dataset:
    """LoCoMo: each conversation in its own space, one memory per turn; adversarial questions
    (category 5) expect an abstention."""
    spaces, questions = {}, []
    for sample in _read_json(path):
        turns = [
            {**locomo_turn(turn), "time": when}
            for session, when in locomo_sessions(sample["conversation"])
            for turn in sample["conversation"][session]
        ]
        space = sample["sample_id"]
        spaces[space] = [conversation_item(turns, space)]
        for qa in sample["qa"]:
            category = LOCOMO_CATEGORIES.get(qa.get("category"))
            if category:
                answer = UNANSWERABLE if category == "adversarial" else str(qa.get("answer", ""))
                if category == "open-domain":  # LoCoMo scores the first of ';'-separated answers
                    answer = answer.split(";")[0].strip()
                questions.append(Question(qa["question"], answer, category, space=space))
    return Dataset("locomo", spaces, questions[:limit])


def hotpotqa(path: Path, corpus: Path, limit: int | None = None) -> Dataset:
    """HotpotQA questions over a corpus file (title -> list of sentences), one memory per passage."""
    passages = json.loads(Path(corpus).read_text(encoding="utf-8"))
    if not isinstance(passages, dict):
        raise InputError(f"{corpus}: expected a JSON object of title -> sentences")
    questions = [Question(q["question"], str(q["answer"]), q.get("type", "hotpot")) for q in _read_json(path)[:limit]]
    # the title leads the passage, as in HippoRAG's and most RAG evaluations: it names the subject
    return Dataset("hotpotqa", _texts([(title, f"{title}: {' '.join(s)}") for title, s in passages.items()]), questions)


_SYLLABLES = "ka lo mi ra ten vo su de bri an el or ul fa ne ti go ha ze pe ru si ko la".split()
_JOBS = "pilot nurse baker architect chemist carpenter lawyer violinist geologist chef".split()
_ANIMALS = "cat dog parrot tortoise rabbit horse".split()


def fictional(count: int, seed: int = 0) -> Dataset:
    """`count` one-sentence facts about made-up people and organisations (the base model cannot know
    them), each asked with natural questions: half are the inversions the synthesiser trains ("Who
    founded X?"), half are worded as no training row is ("What is X's job?")."""
    rng = random.Random(seed)

    def name(parts: int) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()

    documents, questions = [], []
    for i in range(count):
        person = f"{name(2)} {name(3)}"
        org = f"{name(3)} {rng.choice(['Industries', 'Labs', 'Works', 'Group'])}"
        city = name(2) + "ville"
        kind = i % 4
        if kind == 0:
            year = str(rng.randint(1900, 2020))
            fact, asked = (
                f"{org} was founded by {person} in {year}.",
                [(f"Who founded {org}?", person), (f"When was {org} founded?", year)],
            )
        elif kind == 1:
            fact, asked = f"{person} lives in {city}.", [(f"Where does {person} live?", city)]
        elif kind == 2:
            job = rng.choice(_JOBS)
            fact, asked = (
                f"{person} works as a {job} at {org}.",
                [(f"What is {person}'s job?", job), (f"Which company does {person} work for?", org)],
            )
        else:
            animal, pet = rng.choice(_ANIMALS), name(2)
            fact, asked = f"{person} has a {animal} named {pet}.", [(f"What is the name of {person}'s {animal}?", pet)]
        documents.append((f"fact-{i}", fact))
        questions += [Question(q, a, "natural", evidence=fact) for q, a in asked]
    return Dataset("fictional", _texts(documents), questions)
