"""OpenAI-compatible `/v1/models` and `/v1/chat/completions`: any OpenAI client gets memory by
changing its base URL.

Models: `imprint/<space>` answers the last user message from that space's memories (extra body
fields: `strategy`, `k`, `remember` to store the user turn and the answer); the base model's own
name answers with no memory at all.
"""

import json
import time
import uuid
from typing import Annotated, Any, Iterator

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..memory import Memory
from .auth import Keys
from .rest import caller

SPACE_PREFIX = "imprint/"


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(part.get("text", "") for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, ... are accepted; decoding is greedy
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    strategy: str = "auto"
    k: int = Field(5, ge=1, le=100)
    remember: bool = False


def router() -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["openai"])

    @api.get("/models")
    def models(request: Request, key: Annotated[str, Depends(caller)]) -> dict:
        memory: Memory = request.app.state.memory
        keys: Keys = request.app.state.keys
        names = [memory.settings.model] + [SPACE_PREFIX + s for s in memory.spaces() if keys.allows(key, s)]
        return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "imprint"}
                                           for n in names]}

    @api.post("/chat/completions")
    def chat(body: ChatRequest, request: Request, key: Annotated[str, Depends(caller)]):
        memory: Memory = request.app.state.memory
        question = next((m.text() for m in reversed(body.messages) if m.role == "user"), "")
        if not question.strip():
            raise HTTPException(400, "no user message with text")
        if body.model.startswith(SPACE_PREFIX):
            space = body.model[len(SPACE_PREFIX):]
            if not request.app.state.keys.allows(key, space):
                raise HTTPException(404, f"no model {body.model!r}")
            answer = memory.ask(question, space, body.strategy, body.k)
            text, prompt_tokens = answer.text, answer.prompt_tokens
            if body.remember:
                memory.add_turns([{"role": "user", "content": question}, {"role": "assistant", "content": text}],
                                 space, source="chat-completions")
        elif body.model == memory.settings.model:
            transcript = "\n".join(f"{m.role}: {m.text()}" for m in body.messages) + "\nassistant:"
            generation = memory.answerer.generate(transcript, body.max_tokens or memory.settings.answer_tokens,
                                                  stop="\nuser:")
            text, prompt_tokens = generation.text, generation.prompt_tokens
        else:
            raise HTTPException(404, f"no model {body.model!r}; see /v1/models")
        completion_tokens = memory.answerer.count_tokens(text) if text else 0
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.stream:
            return StreamingResponse(_stream(reply_id, created, body.model, text), media_type="text/event-stream")
        return {
            "id": reply_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    return api


def _stream(reply_id: str, created: int, model: str, text: str) -> Iterator[str]:
    """Server-sent events in the OpenAI chunk format. The answer is generated whole first (answers
    are short), then sent word by word."""
    def event(delta: dict, finish: str | None = None) -> str:
        chunk = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for position, word in enumerate(text.split(" ")):
        yield event({"content": word if position == 0 else " " + word})
    yield event({}, "stop")
    yield "data: [DONE]\n\n"
