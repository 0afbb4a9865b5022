"""MCP server (official `mcp` SDK): tools to remember, recall, ask, list, get, update and forget, over one Memory.

Over stdio (`imprint mcp`) the caller is the local user and may touch every space; started with
`--space`, the server serves that one space only. Over HTTP (`imprint serve`, path /mcp) each call
carries the same API key as the REST routes; a space the key may not touch is reported as missing,
and a key that names exactly one space makes it the default.
"""

from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..config import VERSION
from ..errors import ImprintError
from ..memory import Memory
from .auth import Keys

READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

SpaceArg = Annotated[
    str | None,
    Field(
        description="The space (a user's or project's memory). Leave out for the "
        "connection's space; `spaces` lists the ones you may use."
    ),
]
FiltersArg = Annotated[
    dict[str, Any] | None,
    Field(
        description=(
            'Only memories whose metadata has each key with the value (or one of a list of values); also "source", '
            '"speaker", "since", "until" (ISO dates). Example: {"user_id": "u1", "since": "2024-01-01"}'
        )
    ),
]
MemoryIdArg = Annotated[int, Field(ge=1, description="A memory id, as returned by remember, recall or list_memories.")]


def _hit(chunk) -> dict[str, Any]:
    found = {"id": chunk.id, "text": chunk.text, "time": chunk.time, "source": chunk.source, "metadata": chunk.metadata}
    return found | ({"location": chunk.location} if chunk.location else {})


def build_mcp(memory: Memory, keys: Keys, fixed_space: str | None = None) -> MCPServer:
    server = MCPServer(
        "imprint",
        version=VERSION,
        instructions=(
            "Long-term memory: a repository's code and docs, and what past sessions decided and found out. "
            "Call `recall` before exploring files: at the start of a task, and whenever you need to know where "
            "something is done, how it works or why it is so. Call `remember` when you decide something or find "
            "something out that a later session should know. `ask` answers a question from memory; `update` "
            "corrects a memory; `forget` and `forget_source` delete. Call `spaces` when you do not know which "
            "space to use."
        ),
    )

    def space_of(ctx: Context, space: str | None) -> str:
        """The space a call works on, checked against the connection (fixed space, or the caller's key)."""
        if fixed_space is not None:
            if space not in (None, fixed_space):
                raise ToolError(f"this server serves space {fixed_space!r} only")
            return fixed_space
        headers = ctx.headers
        if headers is None:  # stdio: the local user, every space
            return space or "default"
        key = keys.caller_of(headers)
        if key is None:
            raise ToolError("missing or unknown API key")
        if space is None:
            only = [p for p in keys.grants.get(key, ()) if not any(c in p for c in "*?[")]
            space = only[0] if len(keys.grants.get(key, ())) == 1 and only else "default"
        if not keys.allows(key, space):
            raise ToolError(f"no space {space!r}")
        return space

    async def run(work: Callable[[], Any]) -> Any:
        """Run the blocking work off the event loop; library errors become tool errors."""
        try:
            return await anyio.to_thread.run_sync(work)
        except ImprintError as error:
            raise ToolError(str(error)) from error

    @server.tool(annotations=READS, structured_output=True)
    async def spaces(ctx: Context) -> dict[str, Any]:
        """The spaces this connection may use."""
        if fixed_space is not None:
            return {"spaces": [fixed_space]}
        names = await run(memory.spaces)
        key = keys.caller_of(ctx.headers) if ctx.headers is not None else None
        return {"spaces": [s for s in names if ctx.headers is None or (key and keys.allows(key, s))]}

    @server.tool(annotations=WRITES, structured_output=True)
    async def remember(
        text: Annotated[str, Field(min_length=1, description="A fact, note, decision or message to keep.")],
        ctx: Context,
        space: SpaceArg = None,
        source: Annotated[str, Field(description="Where it came from (shown with the memory).")] = "mcp",
        metadata: Annotated[
            dict[str, Any] | None,
            Field(description=('Key-values kept with the memory, for filters: {"user_id": "u1", "agent_id": "coder"}')),
        ] = None,
        time: Annotated[str | None, Field(description="When it was said or became true (ISO date or time).")] = None,
    ) -> dict[str, Any]:
        """Store a decision, finding, convention or fact for later sessions ("the tests run with pytest-xdist",
        "the bug was in the cache key of load_config"). Write it so it stands alone: name the files and
        symbols. Returns the new memory ids."""
        space = space_of(ctx, space)
        return {"memory_ids": await run(partial(memory.add, text, space, source, time, metadata))}

    @server.tool(annotations=READS, structured_output=True)
    async def recall(
        query: Annotated[str, Field(min_length=1, description="What to look for, in words.")],
        ctx: Context,
        space: SpaceArg = None,
        k: Annotated[int, Field(ge=1, le=100, description="How many memories to return.")] = 5,
        filters: FiltersArg = None,
    ) -> dict[str, Any]:
        """Search memory (keywords, identifiers and meaning): code symbols come back with
        `location` (`path:start-end symbol`) and their code; notes, decisions and past sessions with
        their source and time. Use it before reading files to find where something is done, and to
        recall what was decided. Returns the `k` best, best first."""
        space = space_of(ctx, space)
        hits = await run(partial(memory.search, query, space, k, filters=filters))
        return {"memories": [_hit(h.memory) | {"score": h.score} for h in hits]}

    @server.tool(annotations=READS, structured_output=True)
    async def ask(
        question: Annotated[str, Field(min_length=1, description="The question to answer from memory.")],
        ctx: Context,
        space: SpaceArg = None,
        strategy: Annotated[
            Literal["auto", "index", "context", "weights", "hybrid"],
            Field(
                description="auto picks per question; index: top memories; context: as many as fit; weights: the "
                "space's adapter alone; hybrid: adapter + top memories."
            ),
        ] = "auto",
        filters: FiltersArg = None,
    ) -> dict[str, Any]:
        """Answer a question from memory; says which memories it used and why that tier answered."""
        space = space_of(ctx, space)
        return (await run(partial(memory.ask, question, space, strategy, filters=filters))).to_dict()

    @server.tool(annotations=READS, structured_output=True)
    async def list_memories(
        ctx: Context,
        space: SpaceArg = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="How many, in id order.")] = 50,
        offset: Annotated[int, Field(ge=0, description="How many to skip.")] = 0,
        filters: FiltersArg = None,
    ) -> dict[str, Any]:
        """List the memories of a space, oldest first."""
        space = space_of(ctx, space)
        return {"memories": [_hit(m) for m in await run(partial(memory.list_memories, space, limit, offset, filters))]}

    @server.tool(annotations=READS, structured_output=True)
    async def get_memory(memory_id: MemoryIdArg, ctx: Context, space: SpaceArg = None) -> dict[str, Any]:
        """One memory with where it came from, each sentence's validity, and its versions."""
        space = space_of(ctx, space)

        def read() -> dict[str, Any]:
            return {
                **asdict(memory.get(memory_id, space)),
                "validity": [asdict(v) for v in memory.validity(memory_id, space)],
                "versions": [_hit(v) | {"replaced_by": v.replaced_by} for v in memory.history(memory_id, space)],
            }

        return await run(read)

    @server.tool(annotations=WRITES, structured_output=True)
    async def update(
        memory_id: MemoryIdArg,
        text: Annotated[str, Field(min_length=1, description="What the memory says now.")],
        ctx: Context,
        space: SpaceArg = None,
    ) -> dict[str, Any]:
        """Correct a memory: the new text replaces it in search; the old version stays in its history."""
        space = space_of(ctx, space)
        return {"replaced": memory_id, "memory_ids": await run(partial(memory.update, memory_id, text, space))}

    @server.tool(annotations=DELETES, structured_output=True)
    async def forget(memory_id: MemoryIdArg, ctx: Context, space: SpaceArg = None) -> dict[str, Any]:
        """Delete one memory, its repeats and its versions from every tier (adapters that learned it too)."""
        space = space_of(ctx, space)
        return asdict(await run(partial(memory.forget, memory_id, space)))

    @server.tool(annotations=DELETES, structured_output=True)
    async def forget_source(
        source: Annotated[
            str, Field(min_length=1, description="A source, e.g. a file name as list_memories shows it.")
        ],
        ctx: Context,
        space: SpaceArg = None,
    ) -> dict[str, Any]:
        """Delete everything that came from one source (a file, a chat), from every tier."""
        space = space_of(ctx, space)
        return asdict(await run(partial(memory.forget_source, source, space)))

    return server
