"""MCP server (official `mcp` SDK): tools remember, recall, ask, forget over one Memory.

Over stdio (`imprint mcp`) the caller is the local user and may touch every space. Over HTTP
(`imprint serve`, path /mcp) each call carries the same API key as the REST routes, and a space the
key may not touch is reported as missing.
"""

from dataclasses import asdict
from functools import partial
from typing import Any, Callable

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ..errors import ImprintError
from ..memory import Memory
from .auth import Keys


def build_mcp(memory: Memory, keys: Keys, default_space: str = "default") -> MCPServer:
    server = MCPServer("imprint", instructions=(
        "Long-term memory. `remember` stores facts and conversation turns, `recall` finds memories, "
        "`ask` answers a question from them, `forget` deletes one."))

    async def run(ctx: Context, space: str, work: Callable[[], Any]) -> Any:
        """Check the caller may touch `space`, then run the blocking work off the event loop."""
        headers = ctx.headers
        if headers is not None:  # HTTP: the key decides (stdio is the local user, who may touch every space)
            key = keys.caller_of(headers)
            if key is None or not keys.allows(key, space):
                raise ToolError(f"no space {space!r}")
        try:
            return await anyio.to_thread.run_sync(work)
        except ImprintError as error:
            raise ToolError(str(error)) from error

    @server.tool(structured_output=True)
    async def remember(text: str, ctx: Context, space: str = default_space, source: str = "mcp") -> dict[str, Any]:
        """Store a fact, note or message in long-term memory. Returns the new memory ids."""
        ids = await run(ctx, space, partial(memory.add, text, space, source))
        return {"memory_ids": ids}

    @server.tool(structured_output=True)
    async def recall(query: str, ctx: Context, space: str = default_space, k: int = 5) -> dict[str, Any]:
        """Find the memories most related to `query` (keyword + semantic search)."""
        hits = await run(ctx, space, partial(memory.search, query, space, k))
        return {"memories": [{"id": h.memory.id, "text": h.memory.text, "time": h.memory.time,
                              "source": h.memory.source, "score": h.score} for h in hits]}

    @server.tool(structured_output=True)
    async def ask(question: str, ctx: Context, space: str = default_space, strategy: str = "auto") -> dict[str, Any]:
        """Answer a question from memory (strategy: auto picks per question; or index, context, weights, hybrid)."""
        answer = await run(ctx, space, partial(memory.ask, question, space, strategy))
        return answer.to_dict()

    @server.tool(structured_output=True)
    async def forget(memory_id: int, ctx: Context, space: str = default_space) -> dict[str, Any]:
        """Delete one memory (by id, as returned by remember or recall), from every tier."""
        done = await run(ctx, space, partial(memory.forget, memory_id, space))
        return asdict(done)

    return server
