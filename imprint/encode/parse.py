"""Read files into raw items: plain text, Markdown, HTML, PDF, and JSON/JSONL conversations.

A file that cannot be read raises ParseError naming the file and the reason; `parse_paths`
collects those errors and goes on with the other files.
"""

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import ParseError
from ..records import RawItem, Segment

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json", ".jsonl"}


@dataclass
class ParseOutcome:
    items: list[RawItem] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


def iter_files(path: Path) -> Iterator[Path]:
    """The path itself, or every non-hidden file under a folder, in a stable order."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                yield child
    elif path.exists():
        yield path
    else:
        raise ParseError(path, "no such file or folder")


def parse_paths(paths: list[Path], max_bytes: int) -> ParseOutcome:
    outcome = ParseOutcome()
    for root in paths:
        try:
            files = list(iter_files(Path(root)))
        except ParseError as error:
            outcome.errors.append(error)
            continue
        for file in files:
            try:
                outcome.items.append(parse_file(file, max_bytes))
            except ParseError as error:
                outcome.errors.append(error)
    return outcome


def parse_file(path: Path, max_bytes: int) -> RawItem:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ParseError(path, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED))}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ParseError(path, f"{size:,} bytes is over the limit of {max_bytes:,} (IMPRINT_MAX_FILE_BYTES)")
    data = path.read_bytes()
    if not data.strip():
        raise ParseError(path, "the file is empty")
    source = str(path.resolve())
    if suffix == ".pdf":
        return _document(source, _pdf_text(path, data), original=data)
    if suffix in HTML_SUFFIXES:
        return _document(source, _html_text(_decode(path, data)), original=data)
    text = _decode(path, data)
    if suffix in TEXT_SUFFIXES:
        return _document(source, text)
    turns = _json_turns(path, text, lines=suffix == ".jsonl")
    return RawItem(source=source, kind="conversation", content=text, segments=turns)


def text_item(text: str, source: str, time: str | None = None, metadata: dict | None = None) -> RawItem:
    """A raw item for text handed over directly (not from a file)."""
    return RawItem(source=source, kind="text", content=text, time=time, metadata=metadata or {},
                   segments=[Segment(text=text, time=time)])


def check_unicode(item: RawItem) -> None:
    """Refuse text that cannot be stored or sent back as UTF-8 (lone surrogates from a bad client)."""
    fields = [item.source, item.content, item.time, json.dumps(item.metadata, ensure_ascii=False)]
    fields += [value for segment in item.segments
               for value in (segment.text, segment.speaker, segment.time, json.dumps(segment.metadata, ensure_ascii=False))]
    for value in fields:
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError as error:
            raise ParseError(item.source.encode("utf-8", "replace").decode(),
                             f"text is not valid Unicode (a lone surrogate at character {error.start})") from None


def conversation_item(turns: list[dict[str, Any]], source: str) -> RawItem:
    """A raw item for chat turns handed over directly: `{speaker|role, text|content, time?}`."""
    content = json.dumps(turns, ensure_ascii=False)
    return RawItem(source=source, kind="conversation", content=content,
                   segments=[_turn(source, i, turn) for i, turn in enumerate(turns)])


def _document(source: str, text: str, original: bytes | None = None) -> RawItem:
    if not text.strip():
        raise ParseError(source, "no text could be extracted")
    return RawItem(source=source, kind="document", content=text, original=original,
                   segments=[Segment(text=text)])


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError(path, "looks like a binary file (NUL bytes), not text")
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParseError(
            path, f"not valid UTF-8 (byte {error.start}); convert it first, e.g. iconv -f latin1 -t utf-8"
        ) from None


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _pdf_text(path: Path, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise ParseError(path, f"not a readable PDF ({error})") from None


def _json_turns(path: Path, text: str, lines: bool) -> list[Segment]:
    try:
        data = [json.loads(line) for line in text.splitlines() if line.strip()] if lines else json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(path, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    if isinstance(data, dict):
        data = data.get("turns") or data.get("messages") or data.get("conversation") or data
    if isinstance(data, list) and data and isinstance(data[0], dict) and "conversation" in data[0]:
        return _locomo_turns(path, data)
    if not isinstance(data, list) or not data:
        raise ParseError(path, "expected a non-empty list of turns {speaker|role, text|content, time?}")
    return [_turn(path, i, turn) for i, turn in enumerate(data)]


def _turn(where: object, index: int, turn: Any) -> Segment:
    if not isinstance(turn, dict):
        raise ParseError(where, f"turn {index} is not an object")
    speaker = turn.get("speaker", turn.get("role"))
    text = turn.get("text", turn.get("content"))
    if not isinstance(text, str) or not text.strip():
        raise ParseError(where, f"turn {index} has no text (expected a 'text' or 'content' string)")
    time = turn.get("time", turn.get("timestamp"))
    extra = {k: v for k, v in turn.items() if k not in {"speaker", "role", "text", "content", "time", "timestamp"}}
    return Segment(text=text, speaker=str(speaker) if speaker is not None else None,
                   time=str(time) if time is not None else None, metadata=extra)


def _locomo_turns(path: Path, samples: list[dict]) -> list[Segment]:
    """LoCoMo: samples with conversation{session_N: [turns], session_N_date_time}."""
    turns = []
    for sample in samples:
        conversation = sample.get("conversation")
        if not isinstance(conversation, dict):
            raise ParseError(path, "LoCoMo sample without a 'conversation' object")
        for session, session_time in locomo_sessions(conversation):
            for turn in conversation[session]:
                segment = _turn(path, len(turns), locomo_turn(turn))
                segment.time = session_time
                segment.metadata.update(sample_id=sample.get("sample_id"), session=session)
                turns.append(segment)
    return turns


def locomo_sessions(conversation: dict) -> list[tuple[str, str | None]]:
    """(session key, its date) in session order."""
    keys = [k for k, v in conversation.items() if k.startswith("session_") and isinstance(v, list)]
    keys.sort(key=lambda k: int(k.split("_")[1]))
    return [(k, conversation.get(f"{k}_date_time")) for k in keys]


def locomo_turn(turn: dict) -> dict:
    """A LoCoMo turn as a plain turn: a shared photo's caption is part of what was said."""
    text = turn.get("text", "")
    if turn.get("blip_caption"):
        text = f"{text} [shares {turn['blip_caption']}]"
    return {"speaker": turn.get("speaker"), "text": text, "dia_id": turn.get("dia_id")}
