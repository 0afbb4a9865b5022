"""Memory: the one front door. Add, search, ask, list and forget, per space.

    m = Memory("./imprint-data")
    m.add("Mira Quenton moved to Tallinn in 2021.", space="alice", source="note-7")
    m.ask("Where does Mira live?", space="alice", strategy="index")
"""

import dataclasses
import functools
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import Settings
from .encode.chunk import chunk_segment, split_sentences, without_speaker
from .encode.dates import named_day, parse_time, strip_resolved_dates
from .encode.entities import extract_entities
from .encode.extract import TeacherExtractor, turn_statement
from .encode.parse import check_unicode, conversation_item, parse_paths, text_item
from .encode.redact import redact
from .encode.salience import content_words, low_information
from .encode.supersede import (
    as_of_now,
    asks_about_now,
    asks_about_the_past,
    replaced,
    statements,
)
from .encode.words import found_in
from .errors import EncryptionError, InputError, ModelError, NotFoundError, ParseError
from .llm.embed import Embedder
from .llm.engine import EngineChoice, choose_engine
from .llm.llamacpp import LlamaCppModel
from .llm.local import LocalModel, resolve_model_dir
from .llm.remote import RemoteModel
from .prompt import answer_prompt, prompt_overhead
from .recall.context import pack
from .recall.dense import VectorIndex
from .recall.focus import focus
from .recall.graph import GraphIndex
from .recall.route import Route, choose
from .recall.search import hybrid_search
from .records import Chunk, Hit, RawItem, Segment, Validity
from .store.crypto import load_master_key
from .store.sqlite import FILE_SUFFIXES, CheckReport, PreparedChunk, SpaceStore
from .weights.adapters import AdapterRegistry
from .weights.consolidate import REPLAY_REPEATS, ConsolidationReport, Gate, consolidate
from .weights.control import correct
from .weights.synth import QA, TeacherSynthesizer, TemplateSynthesizer
from .weights.train import TrainConfig, qa_prompt

STRATEGIES = ("auto", "index", "context", "weights", "hybrid")
_SPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch: "$" would let a final newline in
_EMBED_BATCH = 256  # chunks embedded (and committed) together when ingesting many items
FORGET_PROBE_QUESTIONS = 8  # questions asked of the weights to show a forgotten fact is gone


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


@dataclass
class Forgotten:
    memory_ids: list[int]
    adapter_versions_removed: list[int]  # versions that had learned a forgotten memory
    current_adapter: int | None  # what the weights strategy uses now (None: re-run consolidate)
    # when the current adapter had learned it: share of its probe questions the weights answered
    # before and after (after: the adapter now current, or the bare base model)
    weights_recall_before: float | None = None
    weights_recall_after: float | None = None


@dataclass
class IngestReport:
    added: int = 0  # raw items stored
    duplicates: int = 0  # raw items already stored, skipped
    memories: list[int] = field(default_factory=list)  # ids of the memories created (dropped ones too)
    indexed: int = 0  # memories this run stored and indexed
    dropped: int = 0  # chunks this run kept raw but not indexed: low information, or repeats
    errors: list[ParseError] = field(default_factory=list)


class Memory:
    def __init__(
        self,
        data_dir: str | Path | None = None,
        settings: Settings | None = None,
        model: LocalModel | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if data_dir is not None:
            self.settings = self.settings.model_copy(update={"data_dir": Path(data_dir)})
        self.embedder = embedder or Embedder()
        self.model = model or LocalModel(self.settings.model, self.settings.cache_dir, self.settings.threads)
        s = self.settings
        self._master_key = load_master_key(s.key_file, s.key.get_secret_value() if s.key else None, s.data_dir)
        self._spaces: dict[str, tuple[SpaceStore, VectorIndex]] = {}
        self._graphs: dict[str, GraphIndex] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def engine(self) -> EngineChoice:
        """Which engine answers locally, and why (llama.cpp only once proven to run on this CPU)."""
        return choose_engine(self.settings)

    @functools.cached_property
    def answerer(self) -> "LocalModel | LlamaCppModel":
        """The local model that generates answers, with adapters: llama.cpp on the GGUF file when it
        runs here (about 3x faster: README), else transformers (self.model, which also trains)."""
        if self.engine.name == "llama.cpp":
            return LlamaCppModel.shared(self.engine.gguf, self.settings.threads)
        return self.model

    @functools.cached_property
    def reader(self) -> "LocalModel | LlamaCppModel | RemoteModel":
        """The model that reads retrieved memories: a configured server, or the local answerer.
        Adapters always run locally."""
        s = self.settings
        if s.answer_url:
            return RemoteModel(s.answer_url, s.answer_model, s.remote_api_key, s.context_tokens or 8192)
        return self.answerer

    # --- spaces --------------------------------------------------------------------------

    def spaces(self) -> list[str]:
        return sorted(p.stem for p in Path(self.settings.data_dir).glob("*.sqlite"))

    def _space(self, space: str, create: bool = False) -> tuple[SpaceStore, VectorIndex]:
        if not isinstance(space, str) or not _SPACE_NAME.fullmatch(space):
            raise InputError(f"bad space name {space!r}: use letters, digits, '_', '-', '.' (max 64)")
        with self._lock:
            if space in self._spaces and self._spaces[space][0].is_replaced():
                self._spaces.pop(space)[0].close()  # forgotten (or replaced) by another process
                self._graphs.pop(space, None)
            if space not in self._spaces:
                path = Path(self.settings.data_dir) / f"{space}.sqlite"
                if not create and not path.exists():
                    raise NotFoundError(f"no space {space!r}")  # never the server's paths
                store = SpaceStore(path, self._master_key)
                self._spaces[space] = (store, VectorIndex(store))
            return self._spaces[space]

    def close(self) -> None:
        with self._lock:
            for store, _ in self._spaces.values():
                store.close()
            self._spaces.clear()
            self._graphs.clear()

    # --- adding --------------------------------------------------------------------------

    def add(self, text: str, space: str, source: str | None = None, time: str | None = None,
            metadata: dict[str, Any] | None = None) -> list[int]:
        """Store one text; returns the ids of its memories (the existing ones if already stored)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("nothing to add: the text is empty")
        return self.ingest([text_item(text, source or "api", time, metadata)], space).memories

    def add_turns(self, turns: list[dict[str, Any]], space: str, source: str = "chat") -> list[int]:
        """Store a conversation: turns of `{speaker|role, text|content, time?}`, one memory per turn."""
        if not turns:
            raise InputError("nothing to add: no turns")
        return self.ingest([conversation_item(turns, source)], space).memories

    def add_paths(self, paths: list[str | Path], space: str,
                  progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Ingest files and folders (recursively); unreadable files are reported, the rest stored."""
        outcome = parse_paths([Path(p) for p in paths], self.settings.max_file_bytes)
        report = self.ingest(outcome.items, space, progress)
        report.errors = outcome.errors
        return report

    def ingest(self, items: list[RawItem], space: str,
               progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Chunk, embed and store raw items; each batch is one all-or-nothing transaction.

        `progress(done, total)` is called with counts of items after each batch.
        """
        for item in items:
            check_unicode(item)
        store, index = self._space(space, create=True)
        report = IngestReport()
        for start, batch in _batches(items, self._chunk_texts):
            prepared = self._prepare(batch, store, index)
            results = store.add(prepared)
            for (_, rows), result in zip(prepared, results):
                report.memories.extend(result.chunk_ids)
                report.duplicates += result.duplicate
                report.added += not result.duplicate
                if not result.duplicate:  # a stored item's chunks were not stored again: nothing was dropped
                    report.dropped += sum(row.dropped is not None for row in rows)
                    report.indexed += sum(row.dropped is None for row in rows)
            store.supersede([replacement for (_, rows), result in zip(prepared, results) if not result.duplicate
                             for chunk_id, row in zip(result.chunk_ids, rows) if row.dropped is None
                             for replacement in self._replacements(store, chunk_id, row)])
            if progress:
                progress(start + len(batch), len(items))
        return report

    def _chunk_texts(self, item: RawItem) -> list[tuple[str, Any]]:
        s = self.settings
        size = min(s.chunk_tokens, self.embedder.max_tokens - 2)
        return [self._rewritten(text, segment) for segment in item.segments
                for text in chunk_segment(self._statement(item, segment), self.embedder.count_tokens, size,
                                          s.chunk_overlap)]

    def _statement(self, item: RawItem, segment: Segment) -> Segment:
        """What a segment is remembered as: a conversation turn as the statement it makes (extract.py)."""
        if item.kind != "conversation" or self.settings.extract == "off":
            return segment
        return dataclasses.replace(segment, text=turn_statement(segment.text, segment.time or item.time))

    def _rewritten(self, text: str, segment: Segment) -> tuple[str, Segment]:
        """A chunk as the teacher's grounded facts (IMPRINT_EXTRACT=teacher), the words it was made
        from kept on it as `said`; as it is otherwise, or when the teacher wrote nothing grounded."""
        if self.settings.extract != "teacher":
            return text, segment
        said = without_speaker(text, segment.speaker)
        facts = self.extractor.facts(said, segment.speaker, segment.time)
        if not facts:
            return text, segment
        prefix = f"{segment.speaker}: " if segment.speaker else ""
        return prefix + " ".join(facts), dataclasses.replace(segment, metadata={**segment.metadata, "said": said})

    @functools.cached_property
    def extractor(self) -> TeacherExtractor:
        return TeacherExtractor(self._teacher(self.settings.teacher, "IMPRINT_EXTRACT=teacher"))

    def _teacher(self, teacher: str | None, needed_by: str) -> "LocalModel | LlamaCppModel | RemoteModel":
        """The model `teacher` names: 'local' (the local answer model) or an OpenAI-compatible server URL."""
        if not teacher:
            raise InputError(f"{needed_by} needs a teacher model: set IMPRINT_TEACHER to 'local' or a server URL")
        s = self.settings
        return self.answerer if teacher == "local" else RemoteModel(teacher, s.teacher_model, s.remote_api_key)

    def _prepare(self, batch: list[tuple[RawItem, list[tuple[str, Any]]]], store: SpaceStore, index: VectorIndex):
        texts = [text for _, chunks in batch for text, _ in chunks]
        vectors = self.embedder.embed(texts)
        nearest = index.nearest(vectors) if self.settings.duplicate_similarity <= 1 else [None] * len(texts)
        prepared, kept, position = [], [], 0
        for item, chunks in batch:
            rows = []
            for text, segment in chunks:
                vector, stored = vectors[position], nearest[position]
                position += 1
                words = _said_words(text, segment.speaker)
                # the information bar is for chat turns; text a user adds on purpose is kept whatever its size
                dropped = low_information(words, self.settings.min_information) if item.kind == "conversation" else None
                repeat_of = None
                if dropped is None:
                    dropped, repeat_of = self._repeat(vector, words, stored, store, kept)
                row = PreparedChunk(text=text, tokens=self.embedder.count_tokens(text), vector=vector,
                                    speaker=segment.speaker, time=segment.time or item.time,
                                    metadata=segment.metadata, dropped=dropped, repeat_of=repeat_of,
                                    entities=None if dropped else extract_entities(text))
                if dropped is None:
                    kept.append((vector, words, row))
                rows.append(row)
            prepared.append((item, rows))
        return prepared

    def _replacements(self, store: SpaceStore, chunk_id: int, chunk: PreparedChunk) -> list[tuple]:
        """(older memory, sentence, what it says now, this memory, since) for each sentence it replaces."""
        text = without_speaker(chunk.text, chunk.speaker)
        subjects = {s.subject for s in statements(text) if s.subject}
        older = store.get(sorted({i for name in subjects for i in store.memories_mentioning(name, chunk_id)}))
        return [(old.id, sentence, now, chunk_id, chunk.time) for old in older
                if old.dropped is None and not (old.time and chunk.time and old.time > chunk.time)
                for sentence, now in replaced(text, without_speaker(old.text, old.speaker))]

    def _repeat(self, vector: np.ndarray, words: set[str], stored: tuple[int, float] | None, store: SpaceStore,
                batch: list[tuple[np.ndarray, set[str], PreparedChunk]]) -> tuple[str | None, int | PreparedChunk | None]:
        """Why this chunk repeats a memory already held (stored, or earlier in this batch), and that
        memory; (None, None) if it says something new. A repeat says the same content words with a
        near-identical embedding: embeddings alone barely see a changed name or number, so they
        would merge different facts."""
        threshold = self.settings.duplicate_similarity
        if stored and stored[1] >= threshold:
            held = next(iter(store.get([stored[0]])), None)  # None: a damaged row
            if held is not None and _said_words(held.text, held.speaker) == words:
                return f"repeats memory {held.id} (similarity {stored[1]:.2f})", held.id
        for other, other_words, row in batch:
            if other_words == words and float(other @ vector) >= threshold:
                return "repeats an earlier memory of the same batch", row
        return None, None

    # --- reading -------------------------------------------------------------------------

    def search(self, query: str, space: str, k: int = 5, graph: bool | None = None) -> list[Hit]:
        """The k best memories: keyword and dense ranks fused, the dense one spread over the entity
        graph when `graph` (default: the `graph` setting; HotpotQA recall@5 80.5% -> 87.5%)."""
        if not query or not query.strip():
            raise InputError("empty query")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        store, index = self._space(space)
        walk = self._graph(space) if (self.settings.graph if graph is None else graph) else None
        return hybrid_search(store, index, query, lambda q: self.embedder.embed([q])[0], k, graph=walk)

    def _graph(self, space: str) -> GraphIndex:
        with self._lock:
            if space not in self._graphs:
                self._graphs[space] = GraphIndex(self._spaces[space][0])
            return self._graphs[space]

    def list_memories(self, space: str, limit: int = 50, offset: int = 0) -> list[Chunk]:
        return self._space(space)[0].list_memories(limit, offset)

    def dropped(self, space: str, limit: int = 50, offset: int = 0) -> list[Chunk]:
        """What was kept raw but not indexed, each with its reason (`Chunk.dropped`)."""
        return self._space(space)[0].list_memories(limit, offset, dropped=True)

    def get(self, memory_id: int, space: str) -> Chunk:
        store = self._space(space)[0]
        found = store.get([memory_id])
        if not found and ("chunks", memory_id) in store.damaged:
            raise EncryptionError(f"memory {memory_id} of {space!r} is damaged ({store.damaged[('chunks', memory_id)]}); "
                                  "`imprint check --repair` moves it out, `imprint forget` deletes it")
        if not found:
            raise NotFoundError(f"no memory {memory_id} in space {space!r}")
        return found[0]

    def raw(self, memory_id: int, space: str) -> RawItem:
        """The raw item a memory was made from, exactly as it came."""
        return self._space(space)[0].raw_item(self.get(memory_id, space).raw_id)

    def count(self, space: str) -> int:
        return self._space(space)[0].count()

    # --- answering -----------------------------------------------------------------------

    def ask(self, question: str, space: str, strategy: str = "auto", k: int = 5) -> Answer:
        """Answer from the space's memories: `index` retrieves the top k, `context` packs as many as
        fit in the model's window, `weights` asks the space's adapter with no memories in the prompt,
        `hybrid` gives the adapter the top k memories too, and `auto` picks one per question
        (see `explain`)."""
        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not question or not question.strip():
            raise InputError("empty question")
        if strategy == "auto":  # one search serves the route and the answer
            started = time.perf_counter()
            hits = self.search(question, space, k)
            route = self._route(question, space, hits)
            routed = time.perf_counter() - started
            answer = self._answer(question, space, route.strategy, k, hits)
            answer.route = route.reason
            if route.strategy in ("weights", "hybrid"):
                answer = self._grounded(answer, question, space, k, hits)
            answer.timings["route_s"] = routed
            answer.timings["total_s"] += routed
            return answer
        return self._answer(question, space, strategy, k)

    def _answer(self, question: str, space: str, strategy: str, k: int, hits: list[Hit] | None = None) -> Answer:
        started = time.perf_counter()
        adapter = None
        if strategy == "weights":
            memories, adapter = [], self._current_adapter_path(space)
            prompt = qa_prompt(question)
        else:
            if strategy == "context":
                memories = self._pack_context(question, space)
            else:
                hits = self.search(question, space, k) if hits is None else hits
                floor = self.settings.min_relative_score * (hits[0].score if hits else 0.0)
                memories = [hit.memory for hit in hits if hit.score >= floor]
            seen = self._as_of(memories, question, space)  # what the reader is shown
            if strategy != "context":
                if self.settings.focus:  # on the current text: a replaced sentence's names do not count
                    seen = focus(seen, question)
                    kept = {m.id for m in seen}
                    memories = [m for m in memories if m.id in kept]
                self._space(space)[0].record_use([m.id for m in memories])
            prompt = answer_prompt(seen, question)
            adapter = self._current_adapter_path(space) if strategy == "hybrid" else None
        recalled = time.perf_counter()
        model = self.answerer if adapter else self.reader
        generation = model.generate(prompt, self.settings.answer_tokens, adapter=adapter)
        done = time.perf_counter()
        return Answer(
            text=generation.text, strategy=strategy, memories=memories,
            prompt_tokens=generation.prompt_tokens,
            timings={"recall_s": recalled - started, "generate_s": done - recalled, "total_s": done - started},
        )

    def _grounded(self, answer: Answer, question: str, space: str, k: int, hits: list[Hit]) -> Answer:
        """The adapter's answer if the memories it was given (closed book: the ones the route looked at)
        say it as of now; otherwise the base reader's answer from the top memories (`index`)."""
        shown = self._as_of(answer.memories or [hit.memory for hit in hits], question, space)
        if found_in(answer.text, [m.text for m in shown]):
            return answer
        reread = self._answer(question, space, "index", k, hits)
        reread.route = (f"{answer.route}; the adapter answered {answer.text!r}, which the memories do not say, "
                        "so the base model answered from them")
        reread.prompt_tokens += answer.prompt_tokens
        reread.timings = {key: reread.timings.get(key, 0.0) + answer.timings.get(key, 0.0)
                          for key in answer.timings.keys() | reread.timings.keys()}
        return reread

    def _as_of(self, memories: list[Chunk], question: str, space: str) -> list[Chunk]:
        """The memories as the reader sees them, as of the day the question names (a year, a date), or
        else as of now: each sentence a newer memory had replaced by then shows what it says since,
        and such changes are stated by their outcome. A question about the past with no date sees
        them as stored."""
        when = None if asks_about_now(question) else named_day(question)
        if not self.settings.supersede or (when is None and asks_about_the_past(question)):
            return memories
        store, ids = self._space(space)[0], [m.id for m in memories]
        replaced_in, changes = store.replaced_sentences(ids), store.superseding(ids)
        shown = []
        for memory in memories:
            text = memory.text
            for replacement in replaced_in.get(memory.id, []):
                if _happened_by(replacement.since, when):
                    text = text.replace(replacement.sentence, replacement.now)
            if memory.id in changes and _happened_by(memory.time, when):  # a change told by its outcome
                text = as_of_now(text)
            text = " ".join(text.split())
            if text and text != f"{memory.speaker}:":
                shown.append(dataclasses.replace(memory, text=text))
        return shown

    def validity(self, memory_id: int, space: str) -> list[Validity]:
        """Each sentence of a memory with when it held: from the memory's time (or when it was added)
        until the newer memory that replaced it."""
        memory = self.get(memory_id, space)
        valid_from = memory.time or memory.added_at
        replacements = {r.sentence: r for r in self._space(space)[0].replaced_sentences([memory_id]).get(memory_id, [])}
        out = []
        for sentence in split_sentences(memory.text):
            replacement = next((r for said, r in replacements.items() if said in sentence or sentence in said), None)
            if replacement is None:
                out.append(Validity(sentence, valid_from))
            else:
                out.append(Validity(sentence, valid_from, replacement.since, replacement.by, replacement.now))
        return out

    def context_budget(self, question: str) -> int:
        """Tokens left for memories: the context limit minus the prompt scaffolding and the answer."""
        limit = self.reader.context_limit
        if self.settings.context_tokens:
            limit = min(limit, self.settings.context_tokens)
        return limit - self.settings.answer_tokens - self.reader.count_tokens(prompt_overhead(question))

    def explain(self, question: str, space: str, k: int = 5) -> Route:
        """Which tier `auto` would answer from, why, and the memories behind the choice."""
        return self._route(question, space, self.search(question, space, k))

    def _route(self, question: str, space: str, hits: list[Hit]) -> Route:
        store, _ = self._space(space)
        current = self.adapters(space).current()
        if current and current.base_model != str(self._model_dir()):
            current = None  # trained on another base model: it cannot answer here
        budget = min(self.context_budget(question), self.settings.auto_context_tokens)
        return choose(hits, current.version if current else None, set(current.memory_ids) if current else set(),
                      store.total_tokens(), budget, self.settings.auto_closed_book)

    def _pack_context(self, question: str, space: str) -> list[Chunk]:
        store, _ = self._space(space)
        ranked = [hit.memory for hit in self.search(question, space, k=max(1, store.count()))]
        packed, _ = pack(ranked, self.reader.count_tokens, self.context_budget(question))
        return packed

    # --- forgetting ----------------------------------------------------------------------

    def forget(self, memory_id: int, space: str) -> "Forgotten":
        """Delete a memory from chunks, vectors and keywords, with its repeats from other sources, and
        every adapter version that learned it (the current adapter falls back to one that never saw
        it, or none). Its raw items go too, or, while other memories still come from them, lose the
        memory's sentences."""
        return self._forget_in_weights(self._space(space)[0].delete_memory(memory_id, redact), space)

    def forget_source(self, source: str, space: str) -> "Forgotten":
        """Delete everything that came from `source`, in every tier, as `forget` does."""
        return self._forget_in_weights(self._space(space)[0].delete_source(source), space)

    def check(self, space: str, repair: bool = False) -> CheckReport:
        """Verify a space's file (SQLite's integrity check, every sealed value authenticated); with
        `repair`, quarantine the rows that fail so the rest reads and searches again."""
        report = self._space(space)[0].check(repair)
        if report.quarantined:  # the vector index reloads by itself: a repair counts as a deletion
            with self._lock:
                self._graphs.pop(space, None)
        return report

    def forget_space(self, space: str) -> None:
        """Delete a whole space: its SQLite file (with WAL and journal), and all its adapters."""
        self._space(space)  # NotFoundError when absent
        with self._lock:
            store, _ = self._spaces.pop(space)
            self._graphs.pop(space, None)
            store.close()
        base = Path(self.settings.data_dir) / f"{space}.sqlite"
        for suffix in FILE_SUFFIXES:
            base.with_name(base.name + suffix).unlink(missing_ok=True)
        AdapterRegistry(self.settings.data_dir, space).delete_all()

    def _forget_in_weights(self, memories: list[Chunk], space: str) -> "Forgotten":
        """Delete the adapter versions that learned these memories; if the current one had, probe
        the weights before and after with questions about them, so the report shows it is gone."""
        registry = self.adapters(space)
        ids = [m.id for m in memories]
        before = registry.current()
        probe = []
        if before is not None and set(ids) & set(before.memory_ids):
            data = TemplateSynthesizer().synthesize([m for m in memories if m.dropped is None])
            probe = (data.probe + data.train)[:FORGET_PROBE_QUESTIONS]
            try:
                recall_before = self._weights_recall(probe, registry.readable(before.version))
            except EncryptionError:  # a damaged sealed adapter is deleted all the same, unprobed
                probe = []
        removed = registry.forget(set(ids))
        current = registry.current()
        report = Forgotten(ids, removed, current.version if current else None)
        if probe:
            report.weights_recall_before = recall_before
            report.weights_recall_after = self._weights_recall(
                probe, registry.readable(current.version) if current else None)
        return report

    def _weights_recall(self, probe: list[QA], adapter: Path | None) -> float:
        answers = [self.answerer.generate(qa_prompt(qa.question), max_new_tokens=16, adapter=adapter).text
                   for qa in probe]
        return sum(correct(answers, [qa.answer for qa in probe])) / len(probe)

    # --- weights -----------------------------------------------------------------------

    def adapters(self, space: str) -> AdapterRegistry:
        return AdapterRegistry(self.settings.data_dir, space, self._space(space)[0].cipher)

    def consolidate(self, space: str, config: TrainConfig | None = None, gate: Gate | None = None,
                    memory_ids: list[int] | None = None, replay_repeats: int = REPLAY_REPEATS,
                    log: Callable[[str], None] = print, teacher: str | None = None,
                    stable_days: float | None = None, min_uses: int | None = None) -> ConsolidationReport:
        """Train the space's stable memories (or `memory_ids`) into a new adapter version; it becomes
        current only if it passes the gate (probe recall and retention). Stable: unchanged for
        `stable_days` and used in `min_uses` answers (defaults: the settings; 0 and 0 take all).
        `teacher` ('local' or a server URL; default: the teacher setting) writes extra QA pairs."""
        store, _ = self._space(space)
        if not memory_ids:
            memory_ids = self.stable_memories(space, stable_days, min_uses)
            log(f"policy: {len(memory_ids)} of {store.count()} memories are stable and used enough")
        memories = self._as_of(store.get(memory_ids), "", space)  # train what is true now, not what was replaced
        if not memories:
            raise InputError(f"space {space!r} has no memories to consolidate (none is stable and used enough: "
                             "see IMPRINT_STABLE_DAYS and IMPRINT_MIN_USES)")
        model_dir = self._model_dir()
        teacher = teacher or self.settings.teacher
        synthesizer = None
        if teacher:
            writer = self._teacher(teacher, "a teacher")

            def progress(done: int, total: int) -> None:
                if done % 10 == 0 or done == total:
                    log(f"teacher: {done}/{total} memories")

            synthesizer = TeacherSynthesizer(writer, seed=(config or TrainConfig()).seed, progress=progress)
        return consolidate(memories, space, self.model, model_dir, self.adapters(space),
                           self.settings.cache_dir, config, gate, replay_repeats, log, synthesizer)

    def stable_memories(self, space: str, stable_days: float | None = None, min_uses: int | None = None) -> list[int]:
        """The ids the consolidation policy would train: unchanged for `stable_days`, used `min_uses` times."""
        days = self.settings.stable_days if stable_days is None else stable_days
        uses = self.settings.min_uses if min_uses is None else min_uses
        cutoff = datetime.now(timezone.utc) - timedelta(days=days)
        return self._space(space)[0].stable_memories(cutoff.isoformat(timespec="seconds"), uses)

    def _model_dir(self) -> Path:
        """The configured base model's folder: what adapters are trained on and must match."""
        return resolve_model_dir(self.settings.model, self.settings.cache_dir)

    def _current_adapter_path(self, space: str) -> Path:
        registry = self.adapters(space)
        current = registry.current()
        if current is None:
            raise InputError(f"space {space!r} has no promoted adapter yet: run `imprint consolidate --space {space}`")
        model_dir = str(self._model_dir())
        if current.base_model != model_dir:
            raise ModelError(f"adapter v{current.version} of {space!r} was trained on {current.base_model}, "
                             f"not on the configured model {model_dir}")
        return registry.readable(current.version)


def _said_words(text: str, speaker: str | None) -> set[str]:
    """The content words a memory's speaker said: what the information bar and repeats compare
    (not the speaker's name, not the dates extract.py added)."""
    return content_words(strip_resolved_dates(without_speaker(text, speaker)))


def _batches(items: list[RawItem], chunker: Callable[[RawItem], list]):
    """Group items so each group has about _EMBED_BATCH chunks; yields (index of first, group)."""
    group, size, start = [], 0, 0
    for position, item in enumerate(items):
        chunks = chunker(item)
        group.append((item, chunks))
        size += len(chunks)
        if size >= _EMBED_BATCH:
            yield start, group
            group, size, start = [], 0, position + 1
    if group:
        yield start, group


def _happened_by(time: str | None, when: date | None) -> bool:
    """Whether something at `time` had happened by the day `when` (None: now); a time that cannot be
    read counts as having happened."""
    happened = parse_time(time)
    return when is None or happened is None or happened <= when
