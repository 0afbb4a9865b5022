"""A coding agent's session log as a conversation: what the user asked and what the agent said it
did or found, without the tool noise.

Read: Claude Code's JSONL (one entry per line, `type` user/assistant/summary, the message's content
as text or blocks) and OpenAI-style messages with `tool` turns and `tool_calls`. Kept: the user's
words, the agent's text and session summaries. Left out: tool calls and their output, thinking,
local command echoes, and short narration of the next step ("Let me look at the tests."). The files
a turn's tool calls touched are kept on the agent's turn before them (`files`), relative to the
session's working folder.
"""

import json
import re
from pathlib import PurePosixPath
from typing import Any

from ..records import Segment

PATH_KEYS = ("file_path", "path", "notebook_path", "filename")
_NARRATION = re.compile(
    r"^(?:now,? |next,? |first,? |ok(?:ay)?,? )?(?:let me|let's|i'll (?:check|look|read|run|open|search|start)"
    r"|i will (?:check|look|read|run|open|search))\b",
    re.IGNORECASE,
)
_NARRATION_WORDS = 20  # narration longer than this says something (a plan, a finding)
_COMMAND_ECHO = ("<command-", "<local-command", "Caveat: The messages below were generated")


def is_agent_log(entries: list) -> bool:
    """Whether parsed JSON lines are an agent's session log rather than plain chat turns."""
    return any(
        isinstance(e, dict)
        and (
            isinstance(e.get("message"), dict)
            and e.get("type") in {"user", "assistant"}
            or e.get("role") == "tool"
            or "tool_calls" in e
        )
        for e in entries
    )


def agent_turns(entries: list[Any]) -> tuple[list[Segment], dict[str, Any]]:
    """The kept turns of a session log, and the session's metadata (agent, session id, folder)."""
    cwd = next((e["cwd"] for e in entries if isinstance(e, dict) and isinstance(e.get("cwd"), str)), None)
    session = next((e.get("sessionId") for e in entries if isinstance(e, dict) and e.get("sessionId")), None)
    turns: list[Segment] = []
    pending: list[str] = []  # files touched before the agent said anything
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("isMeta"):
            continue
        if entry.get("type") == "summary" and isinstance(entry.get("summary"), str):
            turns.append(Segment(text=entry["summary"], speaker="summary"))
            continue
        message = entry.get("message") if isinstance(entry.get("message"), dict) else entry
        role = message.get("role") or entry.get("type")
        if role not in {"user", "assistant"}:
            continue  # tool output, system prompts
        texts, files = _blocks(message)
        files += [path for call in message.get("tool_calls") or [] for path in _call_paths(call)]
        files = [_relative(path, cwd) for path in files]
        said = "\n".join(text for text in texts if _kept(text, role)).strip()
        if said:
            turns.append(
                Segment(
                    text=said,
                    speaker=role,
                    time=entry.get("timestamp"),
                    metadata={"files": pending + files} if pending or files else {},
                )
            )
            pending = []
        elif files:
            last = next((t for t in reversed(turns) if t.speaker == "assistant"), None)
            if last is None:
                pending += files
            else:
                last.metadata["files"] = list(dict.fromkeys(last.metadata.get("files", []) + files))
    metadata = {"agent": "claude-code" if session else "openai-messages"}
    metadata.update({k: v for k, v in (("session", session), ("cwd", cwd)) if v})
    return turns, metadata


def _blocks(message: dict) -> tuple[list[str], list[str]]:
    """A message's text blocks and the paths its tool calls name."""
    content = message.get("content")
    if isinstance(content, str):
        return [content], []
    texts, files = [], []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
            files += [block["input"][k] for k in PATH_KEYS if isinstance(block["input"].get(k), str)]
    return texts, files


def _call_paths(call: Any) -> list[str]:
    """The paths an OpenAI-style tool call's JSON arguments name."""
    try:
        arguments = json.loads(call["function"]["arguments"])
    except (KeyError, TypeError, ValueError):
        return []
    return [arguments[k] for k in PATH_KEYS if isinstance(arguments, dict) and isinstance(arguments.get(k), str)]


def _kept(text: str, role: str) -> bool:
    text = text.strip()
    if not text or text.startswith(_COMMAND_ECHO) or text.startswith("[Request interrupted"):
        return False
    return not (role == "assistant" and _NARRATION.match(text) and len(text.split()) <= _NARRATION_WORDS)


def _relative(path: str, cwd: str | None) -> str:
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        return str(PurePosixPath(path).relative_to(cwd))
    return path
