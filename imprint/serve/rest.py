"""REST routes: spaces, add (text, file, turns), list, get, raw items, update, history, search, ask,
forget, consolidate, adapters. Every response has a declared model, so /openapi.json describes it.

Every route that names a space goes through `space_for_caller`: a space the caller's key may not
touch is answered 404, exactly like a space that does not exist.
"""

import json
import unicodedata
from dataclasses import asdict
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

from ..encode.parse import parse_data
from ..errors import InputError, NotFoundError
from ..forget import Forgotten
from ..jobs.runner import JobRunner, JobView
from ..memory import Memory
from ..spaces import SpaceSummary
from .auth import Keys
from .schemas import (
    FILTERS_HELP,
    MAX_NAME_CHARS,
    MAX_QUERY_CHARS,
    AdaptersOut,
    AnswerOut,
    AskIn,
    ConsolidateIn,
    DeletedOut,
    DroppedOut,
    HistoryOut,
    HitsOut,
    JobStarted,
    Limit,
    MemoriesOut,
    MemoryDetail,
    MemoryId,
    MemoryIdsOut,
    Offset,
    RawOut,
    RouteOut,
    SearchIn,
    SpacesOut,
    TextIn,
    TurnsIn,
    UpdatedOut,
    UpdateIn,
    UploadOut,
)
from .session import session_caller

bearer = HTTPBearer(auto_error=False, description="An API key from the keys file (omit on a keyless loopback server)")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, as a header")


def caller(
    request: Request,
    _bearer: Annotated[Any, Security(bearer)] = None,
    _header: Annotated[Any, Security(api_key_header)] = None,
) -> str:
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
    if (
        name.strip() in ("", ".", "..")
        or len(name) > MAX_NAME_CHARS
        or any(unicodedata.category(c).startswith("C") for c in name)
    ):
        raise InputError(
            f"bad upload file name {name[:40]!r}: give a plain name of at most {MAX_NAME_CHARS} "
            "characters, without control characters"
        )
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
def list_memories(
    space: Space,
    memory: Mem,
    limit: Limit = 50,
    offset: Offset = 0,
    filters: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="JSON: " + FILTERS_HELP)] = None,
) -> MemoriesOut:
    return MemoriesOut(
        memories=memory.list_memories(space, limit, offset, filters_from(filters)), total=memory.count(space)
    )


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
    return RawOut(
        source=raw.source,
        kind=raw.kind,
        time=raw.time,
        content=raw.content,
        metadata=raw.metadata,
        original_bytes=len(raw.original) if raw.original is not None else None,
    )


@router.get(
    "/spaces/{space}/memories/{memory_id}/raw/original",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the original file, as an attachment"}
    },
)
def raw_original(space: Space, memory_id: MemoryId, memory: Mem) -> Response:
    """The original file (or the text as it came) as a download. Never rendered by the browser:
    an uploaded HTML page must not run as the server's page."""
    raw = memory.raw(memory_id, space)
    name = download_name(raw.source)
    data = raw.original if raw.original is not None else raw.content.encode("utf-8")
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


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
    job = _runner(request).consolidate(space, body.model_dump())
    return JobStarted(job=job.id, status=job.status)


@router.get("/jobs/{job_id}")
def job_status(job_id: str, request: Request, key: Caller) -> JobView:
    return _job(job_id, request, key)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, request: Request, key: Caller) -> JobView:
    """Cancel a queued job, or stop a running one at its next progress line (the current adapter stays)."""
    _job(job_id, request, key)
    return _runner(request).cancel(job_id)


def _runner(request: Request) -> JobRunner:
    return request.app.state.jobs


def _job(job_id: str, request: Request, key: str | None) -> JobView:
    """The job, if the caller may see its space (else 404, as for a job that does not exist)."""
    try:
        job = _runner(request).get(job_id)
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
