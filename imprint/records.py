"""Plain records passed between the parts: what came in, what is stored, what was found."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Segment:
    """A piece of an incoming item that is chunked on its own: a whole document or one chat turn."""

    text: str
    speaker: str | None = None
    time: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawItem:
    """One item exactly as it came (the text, or the file's bytes when text had to be extracted)."""

    source: str
    kind: str  # "text" | "document" | "conversation"
    content: str
    segments: list[Segment]
    time: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    original: bytes | None = None
    # a version of a document (a file): memories of its source's older versions that it no longer
    # says are replaced by it
    replaces: bool = False
    # an update of a memory (`Memory.update`): stored as a new version even where its text is an
    # older version's ("orange" -> "purple" -> "orange"), as an edit undone is
    new_version: bool = False


@dataclass
class Chunk:
    """A stored memory: an indexed piece of text that points back to its raw item."""

    id: int
    raw_id: int
    source: str
    text: str
    speaker: str | None
    time: str | None
    tokens: int
    metadata: dict[str, Any]
    added_at: str
    dropped: str | None = None  # why it is kept raw but not indexed (low information, a repeat)
    repeat_of: int | None = None  # a repeat: the memory that says the same
    uses: int = 0  # answers it was put in front of the model for
    also_from: list[str] = field(default_factory=list)  # sources of its repeats: merged, one memory
    replaced_by: int | None = None  # its newer version (an update, or its file changed)

    @property
    def location(self) -> str | None:
        """`path:start-end symbol` for a memory of code (None: not one)."""
        meta = self.metadata
        if "path" not in meta or "start_line" not in meta:
            return None
        return f"{meta['path']}:{meta['start_line']}-{meta['end_line']}" + (
            f" {meta['symbol']}" if meta.get("symbol") else ""
        )


@dataclass
class Replacement:
    """A sentence of a memory that a newer memory replaced; kept for history and questions about then."""

    sentence: str
    now: str  # what the sentence says since the change
    by: int  # the newer memory
    since: str | None  # the newer memory's time (None: not known)


@dataclass
class Validity:
    """One sentence of a memory and when it held: from the memory's time until a newer memory replaced it."""

    sentence: str
    valid_from: str | None
    valid_to: str | None = None  # None: still valid (or replaced at an unknown time, see replaced_by)
    replaced_by: int | None = None
    now: str | None = None  # what it says since


@dataclass
class Hit:
    """A search result: the memory, its fused score, and its rank in each retriever (None: absent)."""

    memory: Chunk
    score: float
    keyword_rank: int | None = None
    dense_rank: int | None = None
    graph_rank: int | None = None
    similarity: float | None = None  # dense cosine to the query (None: not among the dense candidates)


@dataclass
class Generation:
    """What a model wrote, and what it cost."""

    text: str
    prompt_tokens: int
    new_tokens: int
    cached_tokens: int = 0  # prompt tokens read from a kept prefix, not computed (llm/llamacpp.py)


class PrefixCache(Protocol):
    """Where a reader keeps the computed state of a prompt's stable start (activations.py): the
    tokens it covers and the engine's bytes for them."""

    def load(self) -> tuple[list[int], bytes] | None: ...

    def save(self, tokens: list[int], state: bytes) -> None: ...

    def drop(self) -> None: ...


class TextModel(Protocol):
    """What every engine does (transformers, llama.cpp, an OpenAI-compatible server): text after a
    prompt, cut at `stop`, optionally through a space's adapter (local engines only); greedy unless
    a `temperature` above 0 asks for sampling. An `instruct` model also has `chat(messages, ...)`,
    which answers in its own chat template (`ChatModel`)."""

    @property
    def instruct(self) -> bool: ...

    @property
    def context_limit(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 48,
        stop: str = "\n",
        adapter: Path | None = None,
        temperature: float = 0.0,
    ) -> Generation: ...


class ChatModel(TextModel, Protocol):
    """An instruct model: it also replies to messages in its own chat template."""

    def chat(
        self, messages: list[dict[str, str]], max_new_tokens: int = 48, stop: str = "\n", temperature: float = 0.0
    ) -> Generation: ...


@dataclass(frozen=True)
class EmbedderRecord:
    """Which embedder made a space's vectors: a question embedded by another one ranks noise."""

    name: str
    dimensions: int
    fingerprint: str | None = None  # the weights' package version or sha256; None: recorded before it was

    def matches(self, other: "EmbedderRecord") -> bool:
        same = self.name == other.name and self.dimensions == other.dimensions
        return same and (self.fingerprint is None or other.fingerprint is None or self.fingerprint == other.fingerprint)

    def __str__(self) -> str:
        return f"{self.name} ({self.dimensions} dimensions)"


class TextEmbedder(Protocol):
    """What every embedder does: unit vectors of memories and of questions (some models embed the
    two with different prompts), and token counts in its own tokenizer (chunk sizes are counted so)."""

    name: str
    max_tokens: int
    weak_similarity: float  # a question whose best match is less similar is about nothing stored
    context_weight: float  # a conversation turn is searched under its vector plus this much of the turn before it
    dense_weight: float  # how much its ranking counts against the keyword ranking when they are fused

    @property
    def record(self) -> EmbedderRecord: ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: list[str]) -> Any: ...

    def embed_query(self, text: str) -> Any: ...
