"""OpenAI-compatible `/v1/models` and `/v1/chat/completions`: any OpenAI client gets memory by
changing its base URL.

Models: `imprint/<space>` answers the last user message from that space's memories; the base
model's own name answers with no memory at all. System (and developer) messages reach the prompt
as instructions, outside the memories. `temperature` and `max_tokens` are honoured; `n` > 1 and
`tools` are refused (one answer, no tool calls). Errors have OpenAI's shape (`{"error": {...}}`,
app.py). Extension fields of the request: `strategy`, `k`, `filters`, `remember` (store the user's
turn, with its time). Extension field of the response: `imprint` = the memories used, the strategy
and the route (in the last chunk when streaming).
"""

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..answer import STRATEGIES, AnswerOptions
from ..memory import Memory
from .auth import Keys
from .rest import caller
from .schemas import FILTERS_HELP

SPACE_PREFIX = "imprint/"
INSTRUCTION_ROLES = ("system", "developer")


class Refused(HTTPException):
    """A request imprint understands and will not do; `param` names the field (OpenAI's error shape)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(400, message)
        self.param = param


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(part.get("text", "") for part in self.content if part.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # top_p, seed, user, ... are accepted and have no effect
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0, le=2)
    n: int | None = Field(None, ge=1)
    tools: list[dict[str, Any]] | None = None
    strategy: str = Field("auto", description=f"imprint: one of {', '.join(STRATEGIES)}")
    k: int = Field(5, ge=1, le=100, description="imprint: memories retrieved")
    filters: dict[str, Any] | None = Field(None, description="imprint: " + FILTERS_HELP)
    remember: bool = Field(False, description="imprint: store the user's turn (with its time) in the space")

    def options(self) -> AnswerOptions:
        if self.n is not None and self.n > 1:
            raise Refused("n", "n > 1 is not supported: imprint writes one answer per request")
        if self.tools:
            raise Refused("tools", "tools are not supported: imprint answers from memory and calls no tools")
        instructions = "\n".join(m.text() for m in self.messages if m.role in INSTRUCTION_ROLES and m.text().strip())
        return AnswerOptions(
            instructions or None, self.temperature or 0.0, self.max_completion_tokens or self.max_tokens
        )


def router() -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["openai"])

    @api.get("/models")
    def models(request: Request, key: Annotated[str, Depends(caller)]) -> dict:
        memory: Memory = request.app.state.memory
        keys: Keys = request.app.state.keys
        names = [memory.settings.model] + [SPACE_PREFIX + s for s in memory.spaces() if keys.allows(key, s)]
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "imprint"} for n in names],
        }

    @api.post("/chat/completions")
    def chat(body: ChatRequest, request: Request, key: Annotated[str, Depends(caller)]):
        memory: Memory = request.app.state.memory
        options = body.options()
        question = next((m.text() for m in reversed(body.messages) if m.role == "user"), "")
        if not question.strip():
            raise Refused("messages", "no user message with text")
        used = None
        if body.model.startswith(SPACE_PREFIX):
            space = body.model[len(SPACE_PREFIX) :]
            if not request.app.state.keys.allows(key, space) or space not in memory.spaces():
                raise HTTPException(404, f"no model {body.model!r}; see /v1/models")
            answer = memory.ask(question, space, body.strategy, body.k, body.filters, options)
            text, prompt_tokens, completion_tokens = answer.text, answer.prompt_tokens, answer.completion_tokens
            used = {
                "memory_ids": answer.memory_ids,
                "strategy": answer.strategy,
                "route": answer.route,
                "timings": answer.timings,
            }
            if body.remember:
                said = datetime.now(timezone.utc).isoformat(timespec="seconds")
                used["remembered"] = memory.add_turns(
                    [{"role": "user", "content": question, "time": said}], space, source="chat-completions"
                )
        elif body.model == memory.settings.model:
            transcript = "\n".join(f"{m.role}: {m.text()}" for m in body.messages) + "\nassistant:"
            generation = memory.answerer.generate(
                transcript,
                options.max_tokens or memory.settings.answer_tokens,
                stop="\nuser:",
                temperature=options.temperature,
            )
            text, prompt_tokens, completion_tokens = generation.text, generation.prompt_tokens, generation.new_tokens
        else:
            raise HTTPException(404, f"no model {body.model!r}; see /v1/models")
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.stream:
            with_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _stream(reply_id, created, body.model, text, usage if with_usage else None, used),
                media_type="text/event-stream",
            )
        return {
            "id": reply_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage,
            **({"imprint": used} if used else {}),
        }

    return api


def _stream(reply_id: str, created: int, model: str, text: str, usage: dict | None, used: dict | None) -> Iterator[str]:
    """Server-sent events in the OpenAI chunk format. The answer is generated whole first (answers
    are short), then sent word by word; usage comes in a last chunk with no choices, when asked for."""

    def event(choices: list, **extra: Any) -> str:
        chunk = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(chunk)}\n\n"

    def delta(content: dict, finish: str | None = None) -> list:
        return [{"index": 0, "delta": content, "finish_reason": finish}]

    yield event(delta({"role": "assistant", "content": ""}))
    for position, word in enumerate(text.split(" ")):
        yield event(delta({"content": word if position == 0 else " " + word}))
    yield event(delta({}, "stop"), **({"imprint": used} if used else {}))
    if usage is not None:
        yield event([], usage=usage)
    yield "data: [DONE]\n\n"
