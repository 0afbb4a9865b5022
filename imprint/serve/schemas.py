"""What the REST routes take and give: request bodies with their limits, and response models
(so /openapi.json describes every route)."""

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, Field

from ..answer import STRATEGIES
from ..records import Chunk, Hit, Validity
from ..weights.adapters import AdapterVersion
from ..weights.plan import ConsolidateOptions

MAX_TEXT_CHARS = 1_000_000  # one text added at once (a long document: upload it as a file)
MAX_TURNS = 10_000  # turns added at once
MAX_QUERY_CHARS = 4_000  # a search query or a question
MAX_NAME_CHARS = 255  # an uploaded file's name

MemoryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**62)]


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    source: str | None = None
    time: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TurnsIn(BaseModel):
    turns: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_TURNS, description="{speaker|role, text|content, time?} each"
    )
    source: str = "chat"


FILTERS_HELP = (
    "Only memories whose metadata has each key with the value (or one of the list's values), "
    'and "source", "speaker", "since", "until" (ISO dates): {"user_id": "u1", "since": "2024-01-01"}'
)


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=100)
    filters: dict[str, Any] | None = Field(None, description=FILTERS_HELP)


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    strategy: str = Field("auto", description=f"one of {', '.join(STRATEGIES)}")
    k: int = Field(5, ge=1, le=100)
    filters: dict[str, Any] | None = Field(None, description=FILTERS_HELP)


class UpdateIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="What the memory says now.")
    time: str | None = Field(None, description="When it became true (ISO date or time); default: the old one's.")


class ConsolidateIn(BaseModel):
    epochs: int = Field(ConsolidateOptions.epochs, ge=1, le=50)
    replay: int = Field(ConsolidateOptions.replay, ge=0, le=10)
    min_recall: float = Field(ConsolidateOptions.min_recall, ge=0, le=1)
    min_retention: float = Field(ConsolidateOptions.min_retention, ge=0, le=1)
    teacher: str | None = None
    stable_days: float | None = Field(None, ge=0)
    min_uses: int | None = Field(None, ge=0)
    full: bool = Field(False, description="Train every memory from the base, not only the new ones on the adapter.")


class MemoryIdsOut(BaseModel):
    memory_ids: list[int]


class UploadOut(MemoryIdsOut):
    duplicate: bool = Field(description="the same file (same name, same bytes) was already stored")


class SpacesOut(BaseModel):
    spaces: list[str]


class DeletedOut(BaseModel):
    deleted: str


class MemoriesOut(BaseModel):
    memories: list[Chunk]
    total: int = Field(description="memories in the space (filters not applied)")


class DroppedOut(BaseModel):
    dropped: list[Chunk]


@dataclass
class MemoryDetail(Chunk):
    validity: list[Validity] = field(default_factory=list)


class RawOut(BaseModel):
    source: str
    kind: str
    time: str | None
    content: str
    metadata: dict[str, Any]
    original_bytes: int | None = Field(
        description="size of the original file kept as it came (PDF, HTML); None: the content is the original"
    )


class UpdatedOut(BaseModel):
    replaced: int
    memory_ids: list[int] = Field(description="the new version's ids (the old id when the text was the same)")


class HistoryOut(BaseModel):
    versions: list[Chunk] = Field(description="oldest first; replaced_by links each to the next")


class HitsOut(BaseModel):
    hits: list[Hit]


class AnswerOut(BaseModel):
    answer: str
    strategy: str
    route: str | None = Field(description="with strategy auto: why this tier answered")
    memory_ids: list[int]
    prompt_tokens: int
    completion_tokens: int
    timings: dict[str, float]
    said: str = Field("", description="the reader's own words, before they were cut to the form the question asks for")


class RouteOut(BaseModel):
    strategy: str
    reason: str
    covered: list[int] = Field(description="which of the memories the current adapter learned")
    memories: list[Chunk]


class JobStarted(BaseModel):
    job: str
    status: str


class AdaptersOut(BaseModel):
    current: int | None
    versions: list[AdapterVersion]
