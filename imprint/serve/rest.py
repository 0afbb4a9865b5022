"""REST routes: spaces, add (text, file, turns), list, get, raw items, update, history, search, ask,
forget, consolidate, adapters. Every response has a declared model, so /openapi.json describes it.

Every route that names a space goes through `space_for_caller`: a space the caller's key may not
touch is answered 404, exactly like a space that does not exist.
"""

import json
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import (
    APIRouter,
    Depends,
    File,
    HTTPException,
    Path,
    Query,
    Request,
    Security,
    UploadFile,
)
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, Field

from ..answer import STRATEGIES
from ..encode.parse import parse_data
from ..errors import InputError, NotFoundError
from ..forget import Forgotten
from ..memory import Memory
from ..queue import ConsolidationQueue, QueuedJob
from ..records import Chunk, Hit, Validity
from ..spaces import SpaceSummary
from ..weights.adapters import AdapterVersion
from ..weights.plan import ConsolidateOptions
from .auth import Keys
from .jobs import Job, Jobs
from .session import session_caller

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
    turns: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_TURNS,
                                        description="{speaker|role, text|content, time?} each")
    source: str = "chat"


FILTERS_HELP = ('Only memories whose metadata has each key with the value (or one of the list\'s values), '
                'and "source", "speaker", "since", "until" (ISO dates): {"user_id": "u1", "since": "2024-01-01"}')


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
    original_bytes: int | None = Field(description="size of the original file kept as it came (PDF, HTML); "
                                                   "None: the content is the original")


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


bearer = HTTPBearer(auto_error=False, description="An API key from the keys file (omit on a keyless loopback server)")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, as a header")


def caller(request: Request, _bearer: Annotated[Any, Security(bearer)] = None,
           _header: Annotated[Any, Security(api_key_header)] = None) -> str:
    """The caller's key, or 401 when keys are required and it is missing or unknown. (The Security
    parameters declare the schemes in OpenAPI: /docs gets an Authorize button.)"""
    keys: Keys = request.app.state.keys
    key = keys.caller_of(request.headers) or session_caller(request, keys)
    if key is None:
        raise HTTPException(401, "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})
    return key


def space_for_caller(space: str, request: Request, key: Annotated[str, Depends(caller)]) -> str:
    if not request.app.state.keys.allows(key, space):
        raise HTTPException(404, f"no space {space!r}")
    return space


def memory_of(request: Request) -> Memory:
    return request.app.state.memory


Space = Annotated[str, Depends(space_for_caller)]
Caller = Annotated[str, Depends(caller)]
Mem = Annotated[Memory, Depends(memory_of)]


def upload_name(filename: str | None) -> str:
    """The last part of an uploaded file's name, refused when it is no usable file name."""
    name = (filename or "upload.txt").replace("\\", "/").rsplit("/", 1)[-1]
    if name.strip() in ("", ".", "..") or len(name) > MAX_NAME_CHARS or any(
            unicodedata.category(c).startswith("C") for c in name):
        raise InputError(f"bad upload file name {name[:40]!r}: give a plain name of at most {MAX_NAME_CHARS} "
                         "characters, without control characters")
    return name


def download_name(source: str) -> str:
    """A safe file name for a stored source, whatever it holds (a newline, 400 characters, only
    dots): its last part, control characters dropped, cut to MAX_NAME_CHARS."""
    name = PurePath(source.removeprefix("upload:").replace("\\", "/")).name
    name = "".join(c for c in name if not unicodedata.category(c).startswith("C"))[-MAX_NAME_CHARS:].strip()
    return name if name.strip(".") else "item.txt"


router = APIRouter(tags=["memory"])


@router.get("/spaces")
def list_spaces(request: Request, key: Caller, memory: Mem) -> SpacesOut:
    keys: Keys = request.app.state.keys
    return SpacesOut(spaces=[s for s in memory.spaces() if keys.allows(key, s)])


@router.get("/spaces/{space}")
def space_summary(space: Space, memory: Mem) -> SpaceSummary:
    """Memories, sources, size on disk, encryption, adapter versions and the last consolidation."""
    return memory.summary(space)


@router.post("/spaces/{space}/memories", status_code=201)
def add_text(space: Space, body: TextIn, memory: Mem) -> MemoryIdsOut:
    return MemoryIdsOut(memory_ids=memory.add(body.text, space, body.source, body.time, body.metadata))


@router.post("/spaces/{space}/turns", status_code=201)
def add_turns(space: Space, body: TurnsIn, memory: Mem) -> MemoryIdsOut:
    return MemoryIdsOut(memory_ids=memory.add_turns(body.turns, space, body.source))


@router.post("/spaces/{space}/files", status_code=201)
def add_file(space: Space, memory: Mem, file: Annotated[UploadFile, File()]) -> UploadOut:
    """Upload one file. It is parsed in memory (never written to a temporary file: an encrypted
    space's plaintext stays off the disk), and errors name the upload, not a server path."""
    limit = memory.settings.max_file_bytes
    name = upload_name(file.filename)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{name}: over the limit of {limit:,} bytes (IMPRINT_MAX_FILE_BYTES)")
    report = memory.ingest([parse_data(data, name, f"upload:{name}")], space)
    return UploadOut(memory_ids=report.memories, duplicate=bool(report.duplicates))


@router.delete("/spaces/{space}")
def forget_space(space: Space, memory: Mem) -> DeletedOut:
    memory.forget_space(space)
    return DeletedOut(deleted=space)


@router.get("/spaces/{space}/memories")
def list_memories(space: Space, memory: Mem, limit: Limit = 50, offset: Offset = 0,
                  filters: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS,
                                                       description="JSON: " + FILTERS_HELP)] = None) -> MemoriesOut:
    return MemoriesOut(memories=memory.list_memories(space, limit, offset, filters_from(filters)),
                       total=memory.count(space))


def filters_from(text: str | None) -> dict | None:
    """Filters given as a JSON query parameter."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise InputError(f"filters must be a JSON object: {error}") from None


@router.get("/spaces/{space}/dropped")
def list_dropped(space: Space, memory: Mem, limit: Limit = 50, offset: Offset = 0) -> DroppedOut:
    """Chunks kept raw but not indexed (low information, repeats, replaced versions), each with its reason."""
    return DroppedOut(dropped=memory.dropped(space, limit, offset))


@router.get("/spaces/{space}/memories/{memory_id}")
def get_memory(space: Space, memory_id: MemoryId, memory: Mem) -> MemoryDetail:
    """The memory, and each of its sentences with when it held (`validity`)."""
    return MemoryDetail(**asdict(memory.get(memory_id, space)), validity=memory.validity(memory_id, space))


@router.get("/spaces/{space}/memories/{memory_id}/raw")
def raw_item(space: Space, memory_id: MemoryId, memory: Mem) -> RawOut:
    """The item the memory was made from, as it came (its text; the original file at .../raw/original)."""
    raw = memory.raw(memory_id, space)
    return RawOut(source=raw.source, kind=raw.kind, time=raw.time, content=raw.content, metadata=raw.metadata,
                  original_bytes=len(raw.original) if raw.original is not None else None)


@router.get("/spaces/{space}/memories/{memory_id}/raw/original", response_class=Response, responses={
    200: {"content": {"application/octet-stream": {}}, "description": "the original file, as an attachment"}})
def raw_original(space: Space, memory_id: MemoryId, memory: Mem) -> Response:
    """The original file (or the text as it came) as a download. Never rendered by the browser:
    an uploaded HTML page must not run as the server's page."""
    raw = memory.raw(memory_id, space)
    name = download_name(raw.source)
    data = raw.original if raw.original is not None else raw.content.encode("utf-8")
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


@router.put("/spaces/{space}/memories/{memory_id}", operation_id="update_memory")
@router.patch("/spaces/{space}/memories/{memory_id}", operation_id="patch_memory")  # the same, as PATCH
def update(space: Space, memory_id: MemoryId, body: UpdateIn, memory: Mem) -> UpdatedOut:
    """Replace a memory's text: the new version is searched, the old one stays in its history."""
    return UpdatedOut(replaced=memory_id, memory_ids=memory.update(memory_id, body.text, space, body.time))


@router.get("/spaces/{space}/memories/{memory_id}/history")
def history(space: Space, memory_id: MemoryId, memory: Mem) -> HistoryOut:
    return HistoryOut(versions=memory.history(memory_id, space))


@router.delete("/spaces/{space}/memories/{memory_id}")
def forget(space: Space, memory_id: MemoryId, memory: Mem) -> Forgotten:
    return memory.forget(memory_id, space)


@router.delete("/spaces/{space}/sources")
def forget_source(space: Space, source: str, memory: Mem) -> Forgotten:
    """Everything from one source; a file's name as the listing shows it is enough when it is unique."""
    return memory.forget_source(source, space)


@router.post("/spaces/{space}/search")
def search(space: Space, body: SearchIn, memory: Mem) -> HitsOut:
    return HitsOut(hits=memory.search(body.query, space, body.k, filters=body.filters))


@router.post("/spaces/{space}/ask")
def ask(space: Space, body: AskIn, memory: Mem) -> AnswerOut:
    return AnswerOut(**memory.ask(body.question, space, body.strategy, body.k, body.filters).to_dict())


@router.post("/spaces/{space}/explain")
def explain(space: Space, body: AskIn, memory: Mem) -> RouteOut:
    """Which tier strategy auto would answer from, why, and the memories behind it (no answer generated)."""
    route = memory.explain(body.question, space, body.k, body.filters)
    return RouteOut(strategy=route.strategy, reason=route.reason, covered=route.covered, memories=route.memories)


@router.post("/spaces/{space}/consolidate", status_code=202)
def consolidate(space: Space, body: ConsolidateIn, request: Request, memory: Mem) -> JobStarted:
    """Train the space's stable memories into an adapter, in the background: in this server, or on the
    Postgres store in the shared queue that `imprint worker` processes run."""
    memory.count(space)  # 404 before a job starts
    queue: ConsolidationQueue | None = request.app.state.queue
    if queue is not None:
        return JobStarted(job=queue.enqueue(space, body.model_dump()), status="queued")
    jobs: Jobs = request.app.state.jobs
    options = ConsolidateOptions(**body.model_dump())
    job = jobs.start("consolidate", space, lambda log: memory.consolidate(space, log=log, **options.arguments()).to_dict())
    return JobStarted(job=job.id, status=job.status)


@router.get("/jobs/{job_id}")
def job_status(job_id: str, request: Request, key: Caller) -> Job | QueuedJob:
    return _job(job_id, request, key)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, request: Request, key: Caller) -> QueuedJob:
    """Cancel a queued job, or stop a running one at its next progress line (Postgres store only)."""
    _job(job_id, request, key)
    queue: ConsolidationQueue | None = request.app.state.queue
    if queue is None:
        raise HTTPException(409, "jobs run inside this server cannot be cancelled; the Postgres store's queue can")
    return queue.cancel(job_id)


def _job(job_id: str, request: Request, key: str | None) -> Job | QueuedJob:
    """The job, if the caller may see its space (else 404, as for a job that does not exist)."""
    queue: ConsolidationQueue | None = request.app.state.queue
    try:
        job = queue.get(job_id) if queue is not None else request.app.state.jobs.get(job_id)
    except NotFoundError:
        job = None
    if job is None or not request.app.state.keys.allows(key, job.space):
        raise HTTPException(404, f"no job {job_id!r}")
    return job


@router.get("/spaces/{space}/adapters")
def adapters(space: Space, memory: Mem) -> AdaptersOut:
    current = memory.adapters(space).current()
    return AdaptersOut(current=current.version if current else None, versions=memory.adapter_versions(space))


@router.post("/spaces/{space}/adapters/{version}/current")
def make_current(space: Space, version: Annotated[int, Path(ge=1)], memory: Mem) -> AdaptersOut:
    """Answer with this version from now on: an earlier one (rollback) or a later one; only a version
    that passed its gate."""
    memory.adapters(space).rollback(version)
    return adapters(space, memory)
