"""REST routes: spaces, add (text, file, turns), list, get, search, ask, forget, consolidate, adapters.

Every route that names a space goes through `space_for_caller`: a space the caller's key may not
touch is answered 404, exactly like a space that does not exist.
"""

import unicodedata
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
)
from pydantic import BaseModel, Field

from ..answer import STRATEGIES
from ..encode.parse import parse_data
from ..errors import InputError
from ..memory import Memory
from ..weights.plan import training_plan
from .auth import Keys
from .jobs import Jobs

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


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=100)


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    strategy: str = Field("auto", description=f"one of {', '.join(STRATEGIES)}")
    k: int = Field(5, ge=1, le=100)


class ConsolidateIn(BaseModel):
    epochs: int = Field(6, ge=1, le=50)
    replay: int = Field(1, ge=0, le=10)
    min_recall: float = Field(0.8, ge=0, le=1)
    min_retention: float = Field(0.9, ge=0, le=1)
    teacher: str | None = None
    stable_days: float | None = Field(None, ge=0)
    min_uses: int | None = Field(None, ge=0)


def caller(request: Request) -> str:
    """The caller's key, or 401 when keys are required and it is missing or unknown."""
    key = request.app.state.keys.caller_of(request.headers)
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


router = APIRouter(tags=["memory"])


@router.get("/spaces")
def list_spaces(request: Request, key: Caller, memory: Mem) -> dict:
    keys: Keys = request.app.state.keys
    return {"spaces": [s for s in memory.spaces() if keys.allows(key, s)]}


@router.post("/spaces/{space}/memories", status_code=201)
def add_text(space: Space, body: TextIn, memory: Mem) -> dict:
    return {"memory_ids": memory.add(body.text, space, body.source, body.time, body.metadata)}


@router.post("/spaces/{space}/turns", status_code=201)
def add_turns(space: Space, body: TurnsIn, memory: Mem) -> dict:
    return {"memory_ids": memory.add_turns(body.turns, space, body.source)}


@router.post("/spaces/{space}/files", status_code=201)
def add_file(space: Space, memory: Mem, file: Annotated[UploadFile, File()]) -> dict:
    """Upload one file. It is parsed in memory (never written to a temporary file: an encrypted
    space's plaintext stays off the disk), and errors name the upload, not a server path."""
    limit = memory.settings.max_file_bytes
    name = upload_name(file.filename)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{name}: over the limit of {limit:,} bytes (IMPRINT_MAX_FILE_BYTES)")
    report = memory.ingest([parse_data(data, name, f"upload:{name}")], space)
    return {"memory_ids": report.memories, "duplicate": bool(report.duplicates)}


@router.delete("/spaces/{space}")
def forget_space(space: Space, memory: Mem) -> dict:
    memory.forget_space(space)
    return {"deleted": space}


@router.get("/spaces/{space}/memories")
def list_memories(space: Space, memory: Mem, limit: Limit = 50, offset: Offset = 0) -> dict:
    return {"memories": [asdict(m) for m in memory.list_memories(space, limit, offset)],
            "total": memory.count(space)}


@router.get("/spaces/{space}/dropped")
def list_dropped(space: Space, memory: Mem, limit: Limit = 50, offset: Offset = 0) -> dict:
    """Chunks kept raw but not indexed (low information, repeats), each with its reason."""
    return {"dropped": [asdict(m) for m in memory.dropped(space, limit, offset)]}


@router.get("/spaces/{space}/memories/{memory_id}")
def get_memory(space: Space, memory_id: MemoryId, memory: Mem) -> dict:
    """The memory, and each of its sentences with when it held (`validity`)."""
    return {**asdict(memory.get(memory_id, space)),
            "validity": [asdict(v) for v in memory.validity(memory_id, space)]}


@router.delete("/spaces/{space}/memories/{memory_id}")
def forget(space: Space, memory_id: MemoryId, memory: Mem) -> dict:
    return asdict(memory.forget(memory_id, space))


@router.delete("/spaces/{space}/sources")
def forget_source(space: Space, source: str, memory: Mem) -> dict:
    return asdict(memory.forget_source(source, space))


@router.post("/spaces/{space}/search")
def search(space: Space, body: SearchIn, memory: Mem) -> dict:
    return {"hits": [asdict(h) for h in memory.search(body.query, space, body.k)]}


@router.post("/spaces/{space}/ask")
def ask(space: Space, body: AskIn, memory: Mem) -> dict:
    return memory.ask(body.question, space, body.strategy, body.k).to_dict()


@router.post("/spaces/{space}/explain")
def explain(space: Space, body: AskIn, memory: Mem) -> dict:
    """Which tier strategy auto would answer from, why, and the memories behind it (no answer generated)."""
    route = memory.explain(body.question, space, body.k)
    return {"strategy": route.strategy, "reason": route.reason, "covered": route.covered,
            "memories": [asdict(m) for m in route.memories]}


@router.post("/spaces/{space}/consolidate", status_code=202)
def consolidate(space: Space, body: ConsolidateIn, request: Request, memory: Mem) -> dict:
    jobs: Jobs = request.app.state.jobs
    memory.count(space)  # 404 before a job starts
    config, gate = training_plan(body.epochs, body.min_recall, body.min_retention)
    job = jobs.start("consolidate", space, lambda log: memory.consolidate(
        space, config, gate, replay_repeats=body.replay, log=log, teacher=body.teacher,
        stable_days=body.stable_days, min_uses=body.min_uses).to_dict())
    return {"job": job.id, "status": job.status}


@router.get("/jobs/{job_id}")
def job_status(job_id: str, request: Request, key: Caller) -> dict:
    jobs: Jobs = request.app.state.jobs
    job = jobs.get(job_id)
    if job is None or not request.app.state.keys.allows(key, job.space):
        raise HTTPException(404, f"no job {job_id!r}")
    return asdict(job)


@router.get("/spaces/{space}/adapters")
def adapters(space: Space, memory: Mem) -> dict:
    registry = memory.adapters(space)
    current = registry.current()
    return {"current": current.version if current else None,
            "versions": [asdict(m) | {"bytes": registry.size_bytes(m.version)} for m in registry.versions()]}
