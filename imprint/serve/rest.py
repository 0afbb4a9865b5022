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

from ..encode.parse import parse_data
from ..errors import InputError
from ..memory import STRATEGIES, Memory
from ..weights.consolidate import Gate
from ..weights.train import TrainConfig
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
    keys: Keys = request.app.state.keys
    key = keys.caller(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if key is None:
        raise HTTPException(401, "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})
    return key


def space_for_caller(space: str, request: Request, key: Annotated[str, Depends(caller)]) -> str:
    if not request.app.state.keys.allows(key, space):
        raise HTTPException(404, f"no space {space!r}")
    return space


Space = Annotated[str, Depends(space_for_caller)]


def upload_name(filename: str | None) -> str:
    """The last part of an uploaded file's name, refused when it is no usable file name."""
    name = (filename or "upload.txt").replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or len(name) > MAX_NAME_CHARS or any(
            unicodedata.category(c).startswith("C") for c in name):
        raise InputError(f"bad upload file name {name[:40]!r}: give a plain name of at most {MAX_NAME_CHARS} "
                         "characters, without control characters")
    return name


def _memory(request: Request) -> Memory:
    return request.app.state.memory


def router() -> APIRouter:
    api = APIRouter(tags=["memory"])

    @api.get("/spaces")
    def list_spaces(request: Request, key: Annotated[str, Depends(caller)]) -> dict:
        keys: Keys = request.app.state.keys
        return {"spaces": [s for s in _memory(request).spaces() if keys.allows(key, s)]}

    @api.post("/spaces/{space}/memories", status_code=201)
    def add_text(space: Space, body: TextIn, request: Request) -> dict:
        ids = _memory(request).add(body.text, space, body.source, body.time, body.metadata)
        return {"memory_ids": ids}

    @api.post("/spaces/{space}/turns", status_code=201)
    def add_turns(space: Space, body: TurnsIn, request: Request) -> dict:
        return {"memory_ids": _memory(request).add_turns(body.turns, space, body.source)}

    @api.post("/spaces/{space}/files", status_code=201)
    def add_file(space: Space, request: Request, file: Annotated[UploadFile, File()]) -> dict:
        """Upload one file. It is parsed in memory (never written to a temporary file: an encrypted
        space's plaintext stays off the disk), and errors name the upload, not a server path."""
        memory = _memory(request)
        limit = memory.settings.max_file_bytes
        name = upload_name(file.filename)
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise InputError(f"{name}: over the limit of {limit:,} bytes (IMPRINT_MAX_FILE_BYTES)")
        report = memory.ingest([parse_data(data, name, f"upload:{name}")], space)
        return {"memory_ids": report.memories, "duplicate": bool(report.duplicates)}

    @api.delete("/spaces/{space}")
    def forget_space(space: Space, request: Request) -> dict:
        _memory(request).forget_space(space)
        return {"deleted": space}

    @api.get("/spaces/{space}/memories")
    def list_memories(space: Space, request: Request, limit: Limit = 50, offset: Offset = 0) -> dict:
        memory = _memory(request)
        return {"memories": [asdict(m) for m in memory.list_memories(space, limit, offset)],
                "total": memory.count(space)}

    @api.get("/spaces/{space}/dropped")
    def list_dropped(space: Space, request: Request, limit: Limit = 50, offset: Offset = 0) -> dict:
        """Chunks kept raw but not indexed (low information, repeats), each with its reason."""
        return {"dropped": [asdict(m) for m in _memory(request).dropped(space, limit, offset)]}

    @api.get("/spaces/{space}/memories/{memory_id}")
    def get_memory(space: Space, memory_id: MemoryId, request: Request) -> dict:
        """The memory, and each of its sentences with when it held (`validity`)."""
        memory = _memory(request)
        return {**asdict(memory.get(memory_id, space)),
                "validity": [asdict(v) for v in memory.validity(memory_id, space)]}

    @api.delete("/spaces/{space}/memories/{memory_id}")
    def forget(space: Space, memory_id: MemoryId, request: Request) -> dict:
        return asdict(_memory(request).forget(memory_id, space))

    @api.delete("/spaces/{space}/sources")
    def forget_source(space: Space, source: str, request: Request) -> dict:
        return asdict(_memory(request).forget_source(source, space))

    @api.post("/spaces/{space}/search")
    def search(space: Space, body: SearchIn, request: Request) -> dict:
        hits = _memory(request).search(body.query, space, body.k)
        return {"hits": [asdict(h) for h in hits]}

    @api.post("/spaces/{space}/ask")
    def ask(space: Space, body: AskIn, request: Request) -> dict:
        answer = _memory(request).ask(body.question, space, body.strategy, body.k)
        return {"answer": answer.text, "strategy": answer.strategy, "route": answer.route,
                "memory_ids": answer.memory_ids, "prompt_tokens": answer.prompt_tokens, "timings": answer.timings}

    @api.post("/spaces/{space}/explain")
    def explain(space: Space, body: AskIn, request: Request) -> dict:
        """Which tier strategy auto would answer from, why, and the memories behind it (no answer generated)."""
        route = _memory(request).explain(body.question, space, body.k)
        return {"strategy": route.strategy, "reason": route.reason, "covered": route.covered,
                "memories": [asdict(m) for m in route.memories]}

    @api.post("/spaces/{space}/consolidate", status_code=202)
    def consolidate(space: Space, body: ConsolidateIn, request: Request) -> dict:
        memory, jobs = _memory(request), request.app.state.jobs
        memory.count(space)  # 404 before a job starts
        job = jobs.start("consolidate", space, lambda log: memory.consolidate(
            space, TrainConfig(epochs=body.epochs), Gate(body.min_recall, body.min_retention),
            replay_repeats=body.replay, log=log, teacher=body.teacher, stable_days=body.stable_days,
            min_uses=body.min_uses).to_dict())
        return {"job": job.id, "status": job.status}

    @api.get("/jobs/{job_id}")
    def job_status(job_id: str, request: Request, key: Annotated[str, Depends(caller)]) -> dict:
        jobs: Jobs = request.app.state.jobs
        job = jobs.get(job_id)
        if job is None or not request.app.state.keys.allows(key, job.space):
            raise HTTPException(404, f"no job {job_id!r}")
        return asdict(job)

    @api.get("/spaces/{space}/adapters")
    def adapters(space: Space, request: Request) -> dict:
        registry = _memory(request).adapters(space)
        current = registry.current()
        return {"current": current.version if current else None,
                "versions": [asdict(m) | {"bytes": registry.size_bytes(m.version)} for m in registry.versions()]}

    return api
