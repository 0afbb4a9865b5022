"""ask: search once -> route -> memories as of the question's day -> focus -> prompt -> generate ->
the adapter's answer checked against the memories.

Strategies: `index` reads the top k memories, `context` packs as many as fit in the reader's
window, `weights` asks the space's adapter with no memories in the prompt, `hybrid` gives the
adapter the top k memories too, and `auto` picks one per question (`explain` says which and why).
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings
from .encode.words import found_in
from .errors import InputError, ModelError
from .llm.choose import Models
from .llm.embed import Embedder
from .prompt import answer_prompt, prompt_overhead, qa_prompt
from .recall.asof import as_of
from .recall.context import pack
from .recall.focus import focus
from .recall.route import Route, choose
from .recall.search import hybrid_search
from .records import Chunk, Hit
from .spaces import Space
from .weights.adapters import Manifest

STRATEGIES = ("auto", "index", "context", "weights", "hybrid")


@dataclass
class Answer:
    text: str
    strategy: str
    memories: list[Chunk]
    prompt_tokens: int
    timings: dict[str, float] = field(default_factory=dict)
    route: str | None = None  # with strategy auto: why this tier answered

    @property
    def memory_ids(self) -> list[int]:
        return [m.id for m in self.memories]

    def to_dict(self) -> dict[str, Any]:
        """The one shape every surface (CLI --json, REST, MCP) answers with."""
        return {"answer": self.text, "strategy": self.strategy, "route": self.route, "memory_ids": self.memory_ids,
                "prompt_tokens": self.prompt_tokens, "timings": self.timings}


class Answering:
    """The read side of one Memory: search, ask, explain."""

    def __init__(self, settings: Settings, models: Models, embedder: Embedder) -> None:
        self.settings = settings
        self.models = models
        self.embedder = embedder

    def search(self, space: Space, query: str, k: int = 5, graph: bool | None = None) -> list[Hit]:
        """The k best memories: keyword and dense ranks fused, the dense one spread over the entity
        graph when `graph` (default: the `graph` setting)."""
        if not query or not query.strip():
            raise InputError("empty query")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        walk = space.graph if (self.settings.graph if graph is None else graph) else None
        return hybrid_search(space.store, space.vectors, query, lambda q: self.embedder.embed([q])[0], k, graph=walk)

    def ask(self, space: Space, question: str, strategy: str = "auto", k: int = 5) -> Answer:
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not question or not question.strip():
            raise InputError("empty question")
        if strategy != "auto":
            return self._answer(space, question, strategy, k)
        started = time.perf_counter()
        hits = self.search(space, question, k)  # one search serves the route and the answer
        route = self._route(space, question, hits)
        routed = time.perf_counter() - started
        answer = self._answer(space, question, route.strategy, k, hits)
        answer.route = route.reason
        if route.strategy in ("weights", "hybrid"):
            answer = self._grounded(space, answer, question, k, hits)
        answer.timings["route_s"] = routed
        answer.timings["total_s"] += routed
        return answer

    def explain(self, space: Space, question: str, k: int = 5) -> Route:
        """Which tier `auto` would answer from, why, and the memories behind the choice."""
        return self._route(space, question, self.search(space, question, k))

    def context_budget(self, question: str) -> int:
        """Tokens left for memories: the reader's window minus the prompt scaffolding and the answer."""
        reader = self.models.counter
        limit = reader.context_limit
        if self.settings.context_tokens:
            limit = min(limit, self.settings.context_tokens)
        return limit - self.settings.answer_tokens - reader.count_tokens(prompt_overhead(question))

    def shown(self, space: Space, memories: list[Chunk], question: str) -> list[Chunk]:
        """The memories as the reader sees them (as of the question's day, when supersession is on)."""
        return as_of(memories, question, space.store) if self.settings.supersede else memories

    def pack_context(self, space: Space, question: str) -> list[Chunk]:
        """Every memory, most relevant first, as many as fit the context budget."""
        ranked = [hit.memory for hit in self.search(space, question, k=max(1, space.store.count()))]
        packed, _ = pack(ranked, self.models.counter.count_tokens, self.context_budget(question))
        return packed

    def usable_adapter(self, space: Space) -> Manifest | None:
        """The space's current adapter if it was trained on the configured base model."""
        current = space.adapters.current()
        return current if current and current.base_model == str(self.models.model_dir()) else None

    def _answer(self, space: Space, question: str, strategy: str, k: int, hits: list[Hit] | None = None) -> Answer:
        started = time.perf_counter()
        adapter = None
        if strategy == "weights":
            memories, adapter = [], self._adapter_path(space)
            prompt = qa_prompt(question)
        else:
            memories, seen = self._memories(space, question, strategy, k, hits)
            prompt = answer_prompt(seen, question)
            adapter = self._adapter_path(space) if strategy == "hybrid" else None
        recalled = time.perf_counter()
        model = self.models.answerer if adapter else self.models.reader
        generation = model.generate(prompt, self.settings.answer_tokens, adapter=adapter)
        done = time.perf_counter()
        return Answer(text=generation.text, strategy=strategy, memories=memories,
                      prompt_tokens=generation.prompt_tokens,
                      timings={"recall_s": recalled - started, "generate_s": done - recalled,
                               "total_s": done - started})

    def _memories(self, space: Space, question: str, strategy: str, k: int,
                  hits: list[Hit] | None) -> tuple[list[Chunk], list[Chunk]]:
        """(the memories an answer uses, the text the reader is shown of them)."""
        if strategy == "context":
            memories = self.pack_context(space, question)
            return memories, self.shown(space, memories, question)
        hits = self.search(space, question, k) if hits is None else hits
        floor = self.settings.min_relative_score * (hits[0].score if hits else 0.0)
        memories = [hit.memory for hit in hits if hit.score >= floor]
        seen = self.shown(space, memories, question)
        if self.settings.focus:  # on the current text: a replaced sentence's names do not count
            seen = focus(seen, question)
            kept = {m.id for m in seen}
            memories = [m for m in memories if m.id in kept]
        space.store.record_use([m.id for m in memories])
        return memories, seen

    def _grounded(self, space: Space, answer: Answer, question: str, k: int, hits: list[Hit]) -> Answer:
        """The adapter's answer if the memories it was given (closed book: the ones the route looked at)
        say it as of now and it is more than the question's own words ("What is X's job?" -> "X");
        otherwise the base reader's answer from the top memories (`index`)."""
        shown = self.shown(space, answer.memories or [hit.memory for hit in hits], question)
        if found_in(answer.text, [question]):
            why = "which only repeats the question"
        elif not found_in(answer.text, [m.text for m in shown]):
            why = "which the memories do not say"
        else:
            return answer
        reread = self._answer(space, question, "index", k, hits)
        reread.route = f"{answer.route}; the adapter answered {answer.text!r}, {why}, so the base model answered from them"
        reread.prompt_tokens += answer.prompt_tokens
        reread.timings = {key: reread.timings.get(key, 0.0) + answer.timings.get(key, 0.0)
                          for key in answer.timings.keys() | reread.timings.keys()}
        return reread

    def _route(self, space: Space, question: str, hits: list[Hit]) -> Route:
        current = self.usable_adapter(space)  # one trained on another base model cannot answer here
        budget = min(self.context_budget(question), self.settings.auto_context_tokens)
        return choose(hits, current.version if current else None, set(current.memory_ids) if current else set(),
                      space.store.total_tokens(), budget, self.settings.auto_closed_book)

    def _adapter_path(self, space: Space) -> Path:
        current = space.adapters.current()
        if current is None:
            raise InputError(f"space {space.name!r} has no promoted adapter yet: "
                             f"run `imprint consolidate --space {space.name}`")
        if self.usable_adapter(space) is None:
            raise ModelError(f"adapter v{current.version} of {space.name!r} was trained on {current.base_model}, "
                             f"not on the configured model {self.models.model_dir()}")
        return space.adapters.readable(current.version)
