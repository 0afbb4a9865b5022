"""ask: search once -> route -> memories as of the question's day -> focus -> prompt -> generate ->
the adapter's answer checked against the memories.

Strategies: `index` reads the top k memories, `context` reads the whole space in the order it
was added (a start that stays the same, so its computed state is kept: activations.py), or the
most relevant memories that fit when the space is larger than the reader's window, `weights`
asks the space's adapter with no memories in the prompt, `hybrid` gives the adapter the top k
memories too, and `auto` picks one per question (`explain` says which and why).
"""

import functools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..config import Settings
from ..errors import InputError, ModelError
from ..filters import Filters
from ..llm.choose import Models, reranker, sparse_encoder
from ..llm.llamacpp import LlamaCppModel
from ..prompt import PROMPT_FORMAT, answer_prompt, context_prompt, prompt_overhead, qa_prompt
from ..recall.rerank import RERANK_POOL, late_interaction, reranked
from ..recall.search import hybrid_search, with_neighbours, worth_reading
from ..records import ChatModel, Chunk, Hit, PrefixCache, TextEmbedder
from ..spaces import Space
from ..text.question import Question, parse_question
from ..text.words import found_in
from ..weights.adapters import Manifest
from .asof import as_of
from .context import pack
from .focus import focus
from .form import shape
from .grounding import misattributed, unsupported
from .route import Route, choose

STRATEGIES = ("auto", "index", "context", "weights", "hybrid")
NOT_IN_MEMORY = "Unknown: the memory does not hold this."
NEAREST = 3  # the best matches written again next to the question in a context prompt
# A list question ("What activities does Melanie partake in?") gathers turns from many sessions: it
# reads this many memories however few `k` asks for (measured in docs/benchmarks/answers.md).
LIST_DEPTH = 10


@dataclass(frozen=True)
class AnswerOptions:
    """How the caller wants the answer written (an OpenAI request's system message, temperature and
    max_tokens). The instructions reach the prompt outside the memories' markers; the weights
    strategy's bare question format has no room for them."""

    instructions: str | None = None
    temperature: float = 0.0  # 0: greedy
    max_tokens: int | None = None  # None: the answer_tokens setting

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 2:
            raise InputError(f"temperature must be between 0 and 2, not {self.temperature}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, not {self.max_tokens}")


@dataclass(frozen=True)
class Asked:
    """One question as the read side handles it: what it may draw on, and how to write the answer."""

    question: str
    k: int = 5
    allowed: np.ndarray | None = None  # the ids the filters let through; None: every memory
    options: AnswerOptions = AnswerOptions()

    @functools.cached_property
    def parsed(self) -> Question:
        """The question read once (its names, its day, the answer's form) for every step that needs it."""
        return parse_question(self.question)

    @property
    def depth(self) -> int:
        """How many memories the answer reads: `k`, or more for a list."""
        return max(self.k, LIST_DEPTH) if self.parsed.kind == "list" else self.k


@dataclass
class Answer:
    text: str
    strategy: str
    memories: list[Chunk]
    prompt_tokens: int
    timings: dict[str, float] = field(default_factory=dict)
    route: str | None = None  # with strategy auto: why this tier answered
    completion_tokens: int = 0
    abstained: str | None = None  # why the answer is NOT_IN_MEMORY (None: it answered)
    said: str = ""  # the reader's own words, before they were cut to the answer's form (answer/form.py)
    cached_tokens: int = 0  # prompt tokens whose computed state was kept, not computed again

    def __post_init__(self) -> None:
        self.said = self.said or self.text

    @property
    def memory_ids(self) -> list[int]:
        return [m.id for m in self.memories]

    def to_dict(self) -> dict[str, Any]:
        """The one shape every surface (CLI --json, REST, MCP) answers with."""
        return {
            "answer": self.text,
            "strategy": self.strategy,
            "route": self.route,
            "memory_ids": self.memory_ids,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "abstained": self.abstained,
            "said": self.said,
            "timings": self.timings,
        }


class Answering:
    """The read side of one Memory: search, ask, explain."""

    def __init__(self, settings: Settings, models: Models, embedder: TextEmbedder) -> None:
        self.settings = settings
        self.models = models
        self.embedder = embedder
        self.reranker = reranker(embedder, settings)
        sparse = sparse_encoder(settings)
        self.scorers = [late_interaction(self.reranker.token_vectors)] + ([sparse.scores] if sparse else [])

    def search(
        self,
        space: Space,
        query: str,
        k: int = 5,
        graph: bool | None = None,
        filters: Filters | None = None,
        rerank: bool = False,
    ) -> list[Hit]:
        """The k best memories: keyword and dense ranks fused, the dense one spread over the entity
        graph when `graph` (default: the `graph` setting); only memories that pass `filters`;
        reranked by late interaction when `rerank` (as `ask` does with IMPRINT_RERANK)."""
        return self._search(space, Asked(query, k, space.store.matching(filters)), graph, k, rerank)

    def _search(
        self, space: Space, asked: Asked, graph: bool | None = None, k: int | None = None, rerank: bool = False
    ) -> list[Hit]:
        if not asked.question or not asked.question.strip():
            raise InputError("empty query")
        k = asked.depth if k is None else k
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        walk = space.graph if (self.settings.graph if graph is None else graph) else None
        space.store.check_embedder(self.embedder.record)
        hits = hybrid_search(
            space.store,
            space.vectors,
            asked.question,
            self.embedder.embed_query,
            max(k, RERANK_POOL) if rerank else k,
            graph=walk,
            allowed=asked.allowed,
            dense_weight=self.embedder.dense_weight,
            names=asked.parsed.candidates,
        )
        if rerank:
            hits = reranked(asked.question, hits, self.scorers, len(hits))
        return with_neighbours(space.store, hits, k, asked.allowed)

    def ask(
        self,
        space: Space,
        question: str,
        strategy: str = "auto",
        k: int = 5,
        filters: Filters | None = None,
        options: AnswerOptions | None = None,
    ) -> Answer:
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not question or not question.strip():
            raise InputError("empty question")
        if filters is not None and strategy in ("weights", "hybrid"):
            raise InputError(
                f"strategy {strategy!r} cannot be filtered: the adapter learned the whole space; "
                "use index, context or auto"
            )
        asked = Asked(question, k, space.store.matching(filters), options or AnswerOptions())
        if strategy != "auto":
            return self._answer(space, asked, strategy)
        started = time.perf_counter()
        hits = self._search(space, asked, rerank=self.settings.rerank)  # one search serves the route and the answer
        route = self._route(space, asked, hits)
        routed = time.perf_counter() - started
        answer = self._answer(space, asked, route.strategy, hits)
        answer.route = route.reason
        if route.strategy in ("weights", "hybrid"):
            answer = self._grounded(space, asked, answer, hits)
        answer.timings["route_s"] = routed
        answer.timings["total_s"] += routed
        return answer

    def explain(self, space: Space, question: str, k: int = 5, filters: Filters | None = None) -> Route:
        """Which tier `auto` would answer from, why, and the memories behind the choice."""
        asked = Asked(question, k, space.store.matching(filters))
        return self._route(space, asked, self._search(space, asked, rerank=self.settings.rerank))

    def context_budget(self, question: str, instructions: str | None = None) -> int:
        """Tokens left for memories: the reader's window minus the prompt scaffolding and the answer."""
        overhead = self.models.counter.count_tokens(prompt_overhead(question, instructions))
        return self._window() - self.settings.answer_tokens - overhead

    def _window(self) -> int:
        """The reader's window, or less where IMPRINT_CONTEXT_TOKENS says so."""
        limit = self.models.counter.context_limit
        return min(limit, self.settings.context_tokens) if self.settings.context_tokens else limit

    def shown(self, space: Space, memories: list[Chunk], question: Question) -> list[Chunk]:
        """The memories as the reader sees them (as of the question's day, when supersession is on)."""
        return as_of(memories, question, space.store) if self.settings.supersede else memories

    def pack_context(self, space: Space, question: str) -> list[Chunk]:
        """What the context tier reads: every memory in the order added when they all fit the
        budget, else the most relevant that fit, best first."""
        return self._packed(space, Asked(question))[0]

    def _packed(self, space: Space, asked: Asked) -> tuple[list[Chunk], bool]:
        """(the memories, whether they are the whole space in the order added: a prompt start that
        stays the same from question to question). A space larger than the window gives the most
        relevant memories that fit, which is what index does with a larger k."""
        size = space.store.count() if asked.allowed is None else len(asked.allowed)
        budget = self.context_budget(asked.question, asked.options.instructions)
        count = self.models.counter.count_tokens
        everything = space.store.list_memories(limit=max(1, size), allowed=asked.allowed)
        packed, _ = pack(everything, count, budget)
        if len(packed) == len(everything):
            return packed, True
        ranked = [hit.memory for hit in self._search(space, asked, k=max(1, size))]
        return pack(ranked, count, budget)[0], False

    def usable_adapter(self, space: Space) -> Manifest | None:
        """The space's current adapter if it was trained on the configured base model."""
        current = space.adapters.current()
        return current if current and current.base_model == self.models.model_name() else None

    def _answer(self, space: Space, asked: Asked, strategy: str, hits: list[Hit] | None = None) -> Answer:
        started = time.perf_counter()
        adapter: Path | None = None
        memories: list[Chunk] = []
        seen: list[Chunk] = []
        start, whole = "", False
        if strategy == "weights":
            # the adapter learned the space's memories only: of a name none of them mentions it can
            # only make something up, so it is not asked (the other tiers abstain the same way)
            unknown = self._unknown_names(space, asked.parsed) if self.settings.abstain else None
            if unknown:
                return _abstained(strategy, unknown, started)
            adapter = self._adapter_path(space)
            prompt = qa_prompt(asked.question)
        else:
            # context reads the whole space: the hits only judge the evidence, so no rerank for them
            rerank = self.settings.rerank and strategy != "context"
            hits = self._search(space, asked, rerank=rerank) if hits is None else hits
            weak = self._weak_evidence(space, asked, hits)
            if weak:  # nothing close enough to read: no generation at all
                return _abstained(strategy, weak, started)
            memories, seen, whole = self._memories(space, asked, strategy, hits)
            if whole:  # the space in the order added, then the question: a start kept from question to question
                nearest = self.shown(
                    space,
                    [hit.memory for hit in worth_reading(hits, self.settings.min_relative_score)[:NEAREST]],
                    asked.parsed,
                )
                start, rest = context_prompt(seen, asked.question, asked.options.instructions, nearest)
                prompt = start + rest
            else:
                prompt = answer_prompt(seen, asked.question, asked.options.instructions, asked.parsed.kind)
            adapter = self._adapter_path(space) if strategy == "hybrid" else None
        recalled = time.perf_counter()
        model = self.models.answerer if adapter else self.models.reader
        budget = asked.options.max_tokens or self.settings.answer_tokens
        kept = self._kept(space, model, start) if strategy == "context" and whole and asked.allowed is None else None
        with_prefix: dict[str, Any] = {"prefix": kept} if kept else {}
        # an instruct reader gets the same prompt in its chat template: without the worked examples
        # its answers were long (LoCoMo F1 0.26, not 0.35; docs/benchmarks.md)
        if not adapter and model.instruct:
            generation = cast(ChatModel, model).chat(
                [{"role": "user", "content": prompt}], budget, temperature=asked.options.temperature, **with_prefix
            )
        else:
            generation = model.generate(
                prompt, budget, adapter=adapter, temperature=asked.options.temperature, **with_prefix
            )
        done = time.perf_counter()
        answer = Answer(
            text=generation.text,
            strategy=strategy,
            memories=memories,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.new_tokens,
            cached_tokens=generation.cached_tokens,
            timings={"recall_s": recalled - started, "generate_s": done - recalled, "total_s": done - started},
        )
        if strategy != "weights" and self.settings.abstain:
            question = asked.parsed
            answer.abstained = unsupported(answer.text, seen, question) or misattributed(answer.text, question, seen)
            if answer.abstained:
                answer.text = NOT_IN_MEMORY
        if strategy != "weights" and not answer.abstained:
            answer.text = shape(answer.said, asked.parsed, seen)
        return answer

    def _weak_evidence(self, space: Space, asked: Asked, hits: list[Hit]) -> str | None:
        """Why the memories found are too weak to read, if they are: the question names no one and
        nothing the space knows, or the closest memory is far from it."""
        if not self.settings.abstain:
            return None
        if unknown := self._unknown_names(space, asked.parsed, [hit.memory for hit in hits]):
            return unknown
        best = max((hit.similarity for hit in hits if hit.similarity is not None), default=None)
        if best is None:
            return "no memory matches the question"
        floor = self.embedder.weak_similarity if self.settings.min_evidence is None else self.settings.min_evidence
        if best < floor:
            return f"the closest memory is {best:.2f} similar to the question, below IMPRINT_MIN_EVIDENCE {floor}"
        return None

    def _unknown_names(self, space: Space, question: Question, found: list[Chunk] | None = None) -> str | None:
        """Why the question is about no one the space knows, if it is: it names someone and no memory
        mentions any of its names (a capitalised first word alone is not taken for a name). `found`:
        memories to look in for a partial name ("Mira" in "Mira Quenton ..."); without them the
        names' keyword matches are read."""
        opener = question.text.split(maxsplit=1)[0].strip(",:;?!").lower() if question.text.strip() else ""
        names = [name for name in question.names if name != opener]  # "Fill in the blank: ..."
        names += [
            part for name in names for part in re.split(r"\s+(?:and|&)\s+", name) if part != name
        ]  # "jon and gina"
        if not names or space.store.entities_named(set(names)):
            return None
        if found is None:
            found = space.store.get(space.store.keyword_search(" ".join(names), 5))
        text = " ".join(memory.text.lower() for memory in found)
        if any(re.search(rf"\b{re.escape(name)}\b", text) for name in names):
            return None
        return f"no memory mentions {', '.join(repr(n) for n in names)}"

    def _memories(
        self, space: Space, asked: Asked, strategy: str, hits: list[Hit]
    ) -> tuple[list[Chunk], list[Chunk], bool]:
        """(the memories an answer uses, the text the reader is shown of them, whether they are the
        whole space in the order added)."""
        if strategy == "context":
            memories, whole = self._packed(space, asked)
            space.store.record_use([m.id for m in memories])
            return memories, self.shown(space, memories, asked.parsed), whole
        memories = [hit.memory for hit in worth_reading(hits, self.settings.min_relative_score)]
        seen = self.shown(space, memories, asked.parsed)
        if self.settings.focus:  # on the current text: a replaced sentence's names do not count
            seen = focus(seen, asked.parsed)
            kept = {m.id for m in seen}
            memories = [m for m in memories if m.id in kept]
        space.store.record_use([m.id for m in memories])
        return memories, seen, False

    def _kept(self, space: Space, model: object, start: str) -> tuple[str, PrefixCache] | None:
        """The prompt start and where its computed state is kept, when the reader can keep it
        (llama.cpp) and a budget is set (IMPRINT_ACTIVATION_BYTES)."""
        if not isinstance(model, LlamaCppModel) or self.settings.activation_bytes <= 0:
            return None
        form = f"{PROMPT_FORMAT}:{'chat' if model.instruct else 'text'}:{model.context_limit}"
        return start, space.activations.slot(model.path, form)

    def _grounded(self, space: Space, asked: Asked, answer: Answer, hits: list[Hit]) -> Answer:
        """The adapter's answer if the memories it was given (closed book: the ones the route looked at)
        say it as of now and it is more than the question's own words ("What is X's job?" -> "X");
        otherwise the base reader's answer from the top memories (`index`)."""
        shown = self.shown(space, answer.memories or [hit.memory for hit in hits], asked.parsed)
        if found_in(answer.text, [asked.question]):
            why = "which only repeats the question"
        elif not found_in(answer.text, [m.text for m in shown]):
            why = "which the memories do not say"
        else:
            return answer
        reread = self._answer(space, asked, "index", hits)
        reread.route = (
            f"{answer.route}; the adapter answered {answer.text!r}, {why}, so the base model answered from them"
        )
        reread.prompt_tokens += answer.prompt_tokens
        reread.completion_tokens += answer.completion_tokens
        reread.timings = {
            key: reread.timings.get(key, 0.0) + answer.timings.get(key, 0.0)
            for key in answer.timings.keys() | reread.timings.keys()
        }
        return reread

    def _route(self, space: Space, asked: Asked, hits: list[Hit]) -> Route:
        # an adapter trained on another base model cannot answer here; a filtered question is never
        # answered by the adapter, which learned the whole space
        current = self.usable_adapter(space) if asked.allowed is None else None
        # the budget in the embedder's tokens, the unit the space's size is counted in (and no need
        # to load the reader's 262k-word tokenizer, 1.7 s, to explain a route)
        overhead = self.embedder.count_tokens(prompt_overhead(asked.question, asked.options.instructions))
        room = self._window() - self.settings.answer_tokens - overhead
        kept = self._context_kept(space) if asked.allowed is None else None
        # a kept state makes a context answer cost what the question costs: the window is the limit
        budget = room if kept else min(room, self.settings.auto_context_tokens)
        reader = self.models.reader_gguf
        return choose(
            hits,
            current.version if current else None,
            set(current.memory_ids) if current else set(),
            space.store.total_tokens(asked.allowed),
            budget,
            self.settings.auto_closed_book,
            reader.stem if reader else None,
            kept,
        )

    def _context_kept(self, space: Space) -> bool | None:
        """Whether the space's context state is kept for the reader (None: it cannot keep one)."""
        if self.settings.activation_bytes <= 0 or self.settings.answer_url:
            return None
        gguf = self.models.reader_gguf or (self.models.engine.gguf if self.models.engine.name == "llama.cpp" else None)
        if gguf is None:
            return None
        return any(space.activations.files())

    def _adapter_path(self, space: Space) -> Path:
        current = space.adapters.current()
        if current is None:
            raise InputError(
                f"space {space.name!r} has no promoted adapter yet: run `imprint consolidate --space {space.name}`"
            )
        if self.usable_adapter(space) is None:
            raise ModelError(
                f"adapter v{current.version} of {space.name!r} was trained on {current.base_model}, "
                f"not on the configured model {self.models.model_name()}"
            )
        return space.adapters.readable(current.version)


def _abstained(strategy: str, why: str, started: float) -> Answer:
    """The answer of a tier that found nothing to answer from: no generation at all."""
    done = time.perf_counter()
    return Answer(
        text=NOT_IN_MEMORY,
        strategy=strategy,
        memories=[],
        prompt_tokens=0,
        abstained=why,
        timings={"recall_s": done - started, "generate_s": 0.0, "total_s": done - started},
    )
