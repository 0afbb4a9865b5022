"""Memory: the one front door. It checks arguments, opens the space, and hands each verb to its
pipeline (ingest.py, answer.py, forget.py, weights/consolidate.py).

    with Memory("./imprint-data") as m:
        m.add("Mira Quenton moved to Tallinn in 2021.", space="alice", source="note-7")
        m.ask("Where does Mira live?", space="alice", strategy="index")
"""

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answer import Answer, Answering, AnswerOptions, asof
from .answer.route import Route
from .config import DEFAULT_MODEL, Settings
from .encode.parse import conversation_item, parse_paths, text_item
from .errors import EncryptionError, InputError, NotFoundError
from .extras import require
from .filters import Filters
from .forget import Forgotten, forget_memory, forget_source
from .ingest import Ingest, IngestReport
from .llm.choose import EngineChoice, Models, choose_embedder, teacher_name_or_none
from .llm.local import LocalModel
from .progress import Progress, ProgressLines
from .records import Chunk, Hit, RawItem, TextEmbedder, TextModel, Validity
from .reindex import ReindexReport, reindex
from .spaces import Space, Spaces, SpaceSummary
from .store.checking import CheckReport
from .store.crypto import load_master_key
from .sync import SyncReport, sync_folder
from .text.extract import TeacherExtractor
from .text.question import parse_question
from .weights.adapters import AdapterRegistry, AdapterVersion
from .weights.plan import REPLAY_REPEATS, Gate, TrainConfig, stable_since
from .weights.synth import TeacherSynthesizer

if TYPE_CHECKING:
    from .weights.consolidate import ConsolidationReport


class Memory:
    """Long-term memory over one data folder: one SQLite file per space, models loaded on first use.

    `settings` default to IMPRINT_* environment variables; `model` and `embedder` let several
    Memory objects (tests, benchmarks) share loaded models.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        settings: Settings | None = None,
        model: LocalModel | None = None,
        embedder: TextEmbedder | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if data_dir is not None:
            self.settings = self.settings.model_copy(update={"data_dir": Path(data_dir)})
        s = self.settings
        self.embedder = embedder or choose_embedder(s)
        self.models = Models(s, model)
        self._spaces = Spaces(
            s.data_dir,
            load_master_key(s.key_file, s.key.get_secret_value() if s.key else None, s.data_dir),
            s.store,
            s.store_connections,
            s.activation_bytes,
        )
        self._ingest = Ingest(
            s,
            self.embedder,
            lambda: TeacherExtractor(
                self.models.teacher(teacher_name_or_none(self.settings), "IMPRINT_EXTRACT=teacher")
            ),
        )
        self._answering = Answering(s, self.models, self.embedder)

    @property
    def settings(self) -> Settings:
        """The settings every part reads (IMPRINT_* variables unless given)."""
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        """Replacing the settings reaches every pipeline (they read them on each call)."""
        self._settings = settings
        for part in ("models", "_ingest", "_answering"):
            if hasattr(self, part):
                getattr(self, part).settings = settings

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every open space (their SQLite files); models stay loaded for reuse."""
        self._spaces.close()

    # --- models --------------------------------------------------------------------------

    @property
    def model(self) -> LocalModel:
        """The local transformers model: it trains adapters (and answers when llama.cpp cannot)."""
        return self.models.model

    @property
    def engine(self) -> EngineChoice:
        """Which engine answers locally, and why."""
        return self.models.engine

    @property
    def answerer(self) -> TextModel:
        """The local model that generates answers, with adapters."""
        return self.models.answerer

    @property
    def reader(self) -> TextModel:
        """The model that reads retrieved memories (a configured server, or the answerer)."""
        return self.models.reader

    # --- spaces --------------------------------------------------------------------------

    def spaces(self) -> list[str]:
        """The names of the spaces in the data folder."""
        return self._spaces.names()

    def space(self, name: str, create: bool = False) -> Space:
        """An open space: its store, vectors, graph and adapters (for benchmarks and tools)."""
        return self._spaces.open(name, create)

    def forget_space(self, space: str) -> None:
        """Delete a whole space: its store (its SQLite file with WAL and journal, or its Postgres rows), and
        all its adapters."""
        self._spaces.delete(space)

    def vacuum(self) -> str:
        """After forgetting on Postgres: rewrite the tables without the deleted rows (docs/deployment.md)."""
        return self._spaces.vacuum()

    def check(self, space: str, repair: bool = False) -> CheckReport:
        """Verify a space (the backend's integrity check, every sealed value authenticated); with
        `repair`, quarantine the rows that fail so the rest reads and searches again."""
        return self.space(space).store.check(repair)

    # --- adding --------------------------------------------------------------------------

    def add(
        self,
        text: str,
        space: str,
        source: str | None = None,
        time: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[int]:
        """Store one text; returns the ids of its memories (the existing ones if already stored)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("nothing to add: the text is empty")
        return self.ingest([text_item(text, source or "api", time, metadata)], space).memories

    def add_turns(self, turns: list[dict[str, Any]], space: str, source: str = "chat") -> list[int]:
        """Store a conversation: turns of `{speaker|role, text|content, time?}`, one memory per turn."""
        if not turns:
            raise InputError("nothing to add: no turns")
        return self.ingest([conversation_item(turns, source)], space).memories

    def add_paths(
        self, paths: list[str | Path], space: str, progress: Callable[[int, int], None] | None = None
    ) -> IngestReport:
        """Ingest files and folders (recursively); unreadable files are reported, the rest stored."""
        outcome = parse_paths([Path(p) for p in paths], self.settings.max_file_bytes)
        report = self.ingest(outcome.items, space, progress)
        report.errors, report.skipped = outcome.errors, outcome.skipped
        return report

    def sync(self, folder: str | Path, space: str, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Keep a space in step with a folder (a repository): new and changed files are read,
        unchanged ones skipped by content hash, and files no longer there forgotten in every tier."""
        return sync_folder(
            Path(folder),
            self.space(space, create=True),
            self._ingest,
            self.models,
            self.settings.max_file_bytes,
            progress,
        )

    def reindex(self, space: str, progress: Callable[[int, int], None] | None = None) -> ReindexReport:
        """Embed a space's memories again with the configured embedder (after changing it); a run
        that was stopped resumes, and searches use the old vectors until the new ones are all in."""
        return reindex(self.space(space), self.embedder, progress)

    def ingest(
        self, items: list[RawItem], space: str, progress: Callable[[int, int], None] | None = None
    ) -> IngestReport:
        """Chunk, embed and store raw items; each batch is one all-or-nothing transaction.
        `progress(done, total)` is called with counts of items after each batch."""
        return self._ingest.run(items, self.space(space, create=True), progress)

    def update(self, memory_id: int, text: str, space: str, time: str | None = None) -> list[int]:
        """Replace a memory's text. The new text becomes a memory from the same source with the same
        metadata; the old one leaves search and stays in `history`. Adapters that learned the old
        text are stale (see `adapter_versions`). Returns the new memory ids."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("nothing to update to: the text is empty")
        old = self.get(memory_id, space)
        if old.dropped is not None:
            raise InputError(f"memory {memory_id} of {space!r} is not searchable ({old.dropped}); update that one")
        return self._ingest.update(self.space(space), old, text, time)

    def history(self, memory_id: int, space: str) -> list[Chunk]:
        """Every version of a memory, oldest first (`replaced_by` links each to the next)."""
        versions = self.space(space).store.history(memory_id)
        if not versions:
            raise NotFoundError(f"no memory {memory_id} in space {space!r}")
        return versions

    def adapter_versions(self, space: str) -> list[AdapterVersion]:
        """The space's adapter versions with their size, each marked stale if it learned a memory
        that a newer version has replaced since."""
        store, registry = self.space(space).store, self.adapters(space)
        return [
            AdapterVersion(
                **asdict(m),
                bytes=registry.size_bytes(m.version),
                stale=any(c.replaced_by for c in store.get(m.memory_ids)),
            )
            for m in registry.versions()
        ]

    # --- reading -------------------------------------------------------------------------

    def search(
        self,
        query: str,
        space: str,
        k: int = 5,
        graph: bool | None = None,
        filters: dict[str, Any] | None = None,
        rerank: bool = False,
    ) -> list[Hit]:
        """The k best memories: keyword and dense ranks fused, the dense one spread over the entity
        graph when `graph` (default: the `graph` setting; HotpotQA recall@5 80.5% -> 87.5%).
        `filters`: metadata key -> value or list of values, and source, speaker, since, until
        (`{"user_id": "u1", "since": "2024-01-01"}`); applied in the store, before ranking.
        `rerank`: reorder the top 50 by late interaction first, as `ask` does (~0.2 s more)."""
        return self._answering.search(self.space(space), query, k, graph, Filters.parse(filters), rerank)

    def list_memories(
        self, space: str, limit: int = 50, offset: int = 0, filters: dict[str, Any] | None = None
    ) -> list[Chunk]:
        """The memories in id order (those that pass `filters`, as in `search`)."""
        store = self.space(space).store
        return store.list_memories(limit, offset, allowed=store.matching(Filters.parse(filters)))

    def dropped(self, space: str, limit: int = 50, offset: int = 0) -> list[Chunk]:
        """What was kept raw but not indexed, each with its reason (`Chunk.dropped`)."""
        return self.space(space).store.list_memories(limit, offset, dropped=True)

    def get(self, memory_id: int, space: str) -> Chunk:
        """One memory; EncryptionError when its row is damaged, NotFoundError when there is none."""
        store = self.space(space).store
        found = store.get([memory_id])
        if found:
            return found[0]
        if ("chunks", memory_id) in store.damaged:
            raise EncryptionError(
                f"memory {memory_id} of {space!r} is damaged ({store.damaged[('chunks', memory_id)]});"
                " `imprint check --repair` moves it out, `imprint forget` deletes it"
            )
        raise NotFoundError(f"no memory {memory_id} in space {space!r}")

    def raw(self, memory_id: int, space: str) -> RawItem:
        """The raw item a memory was made from, exactly as it came."""
        return self.space(space).store.raw_item(self.get(memory_id, space).raw_id)

    def summary(self, space: str) -> SpaceSummary:
        """What a space holds: memories, sources, size on disk, encryption, adapters."""
        return self.space(space).summary()

    def count(self, space: str) -> int:
        """How many memories the space holds (kept-raw chunks not counted)."""
        return self.space(space).store.count()

    def validity(self, memory_id: int, space: str) -> list[Validity]:
        """Each sentence of a memory with when it held: from the memory's time (or when it was added)
        until the newer memory that replaced it."""
        return asof.validity(self.get(memory_id, space), self.space(space).store)

    def as_of(self, memories: list[Chunk], question: str, space: str) -> list[Chunk]:
        """The memories as the reader sees them for `question` (as of the day it names, or now)."""
        return self._answering.shown(self.space(space), memories, parse_question(question))

    # --- answering -----------------------------------------------------------------------

    def ask(
        self,
        question: str,
        space: str,
        strategy: str = "auto",
        k: int = 5,
        filters: dict[str, Any] | None = None,
        options: AnswerOptions | None = None,
    ) -> Answer:
        """Answer from the space's memories: `index` retrieves the top k, `context` packs as many as
        fit in the model's window, `weights` asks the space's adapter with no memories in the prompt,
        `hybrid` gives the adapter the top k memories too, and `auto` picks one per question
        (see `explain`). With `filters` (as in `search`) only matching memories are read, and the
        adapter, which learned the whole space, does not answer. `options`: the caller's instructions,
        temperature and answer length."""
        return self._answering.ask(self.space(space), question, strategy, k, Filters.parse(filters), options)

    def explain(self, question: str, space: str, k: int = 5, filters: dict[str, Any] | None = None) -> Route:
        """Which tier `auto` would answer from, why, and the memories behind the choice (no answer)."""
        return self._answering.explain(self.space(space), question, k, Filters.parse(filters))

    def context_budget(self, question: str) -> int:
        """Tokens left for memories in a `context` prompt for this question."""
        return self._answering.context_budget(question)

    def pack_context(self, question: str, space: str) -> list[Chunk]:
        """The memories a `context` answer reads: most relevant first, as many as fit."""
        return self._answering.pack_context(self.space(space), question)

    # --- forgetting ----------------------------------------------------------------------

    def forget(self, memory_id: int, space: str) -> Forgotten:
        """Delete a memory from chunks, vectors and keywords, with its repeats from other sources, and
        every adapter version that learned it (the current adapter falls back to one that never saw
        it, or none). Its raw items go too, or, while other memories still come from them, lose the
        memory's sentences."""
        return forget_memory(self.space(space), memory_id, self.models)

    def forget_source(self, source: str, space: str) -> Forgotten:
        """Delete everything that came from `source`, in every tier, as `forget` does."""
        return forget_source(self.space(space), source, self.models)

    # --- weights -------------------------------------------------------------------------

    def adapters(self, space: str) -> AdapterRegistry:
        """The space's adapter versions."""
        return self.space(space).adapters

    def consolidate(
        self,
        space: str,
        config: TrainConfig | None = None,
        gate: Gate | None = None,
        memory_ids: list[int] | None = None,
        replay_repeats: int = REPLAY_REPEATS,
        log: Callable[[str], None] = print,
        teacher: str | None = None,
        stable_days: float | None = None,
        min_uses: int | None = None,
        progress: Progress | None = None,
        full: bool = False,
    ) -> "ConsolidationReport":
        """Train the space's stable memories (or `memory_ids`) into a new adapter version; it becomes
        current only if it passes the gate (probe recall and retention). Stable: unchanged for
        `stable_days` and used in `min_uses` answers (defaults: the settings; 0 and 0 take all).
        `teacher` ('local', a .gguf file or a server URL; default: the teacher setting, else the
        profile's; 'off': none) writes extra QA pairs. `progress` gets each stage's counted steps
        (default: a line through `log` at least every 15 s). With a current adapter only the memories
        it has not learned are trained, on top of it (weights/consolidate.py); `full` trains all from
        the base."""
        progress = progress or ProgressLines(log)
        opened = self.space(space)
        if not memory_ids:
            memory_ids = self.stable_memories(space, stable_days, min_uses)
            log(f"policy: {len(memory_ids)} of {opened.store.count()} memories are stable and used enough")
        now = parse_question("")  # what is true now, not what was replaced
        memories = self._answering.shown(opened, opened.store.get(memory_ids), now)
        if not memories:
            raise InputError(
                f"space {space!r} has no memories to consolidate (none is stable and used enough: "
                "see IMPRINT_STABLE_DAYS and IMPRINT_MIN_USES)"
            )
        # imported here, not above: it imports torch and peft (seconds)
        require("train", "consolidation")
        from .weights.consolidate import consolidate, incremental_start, lora_shape

        config = config or TrainConfig()
        current = self._answering.usable_adapter(opened)
        replaced = opened.store.replaced_sentences(current.memory_ids) if current else {}
        wanted = (config.r, tuple(sorted(config.target_modules)))
        same = current is None or lora_shape(opened.adapters.path(current.version)) == wanted
        start, why = incremental_start(current, [m.id for m in memories], replaced, full, same)
        log(why)
        teacher = teacher_name_or_none(self.settings, teacher)
        synthesizer = None
        if teacher:
            synthesizer = TeacherSynthesizer(
                self.models.teacher(teacher, "a teacher"),
                seed=config.seed,
                open_book=config.open_book,
                progress=lambda done, total: progress("teacher writes questions", done, total),
                cache_dir=opened.adapters.teacher_dir,
                teacher_name=self.models.teacher_name(teacher),
            )
        return consolidate(
            [m for m in memories if start is None or m.id not in start.memory_ids],
            space,
            self.models.model,
            self.models.model_dir(),
            opened.adapters,
            self.settings.cache_dir,
            config,
            gate,
            replay_repeats,
            log,
            synthesizer,
            packaged=self.settings.model == DEFAULT_MODEL,
            progress=progress,
            start=start,
            learned=[m for m in memories if start is not None and m.id in start.memory_ids],
        )

    def stable_memories(self, space: str, stable_days: float | None = None, min_uses: int | None = None) -> list[int]:
        """The ids the consolidation policy would train: unchanged for `stable_days`, used `min_uses` times."""
        days = self.settings.stable_days if stable_days is None else stable_days
        uses = self.settings.min_uses if min_uses is None else min_uses
        return self.space(space).store.stable_memories(stable_since(days), uses)
