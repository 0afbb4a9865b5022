"""Read files into raw items: plain text, Markdown, HTML, PDF, JSON/JSONL conversations (a coding
agent's session logs among them), and source code.

A file that cannot be read raises ParseError naming the file and the reason; `parse_paths`
collects those errors and goes on with the other files. A file that looks like it holds a secret
is refused whole (secrets.py). Folders are read as a repository would be (folder.py).
"""

import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ParseError
from ..records import RawItem, Segment
from ..text.secrets import find_secret, secret_name
from .code import code_segments, language_of
from .folder import Skipped, walk
from .transcript import agent_turns, is_agent_log

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json", ".jsonl"}
MAX_NESTING = 32  # levels of lists and objects in metadata and a turn's extra fields
MAX_CODE_LINE = 2_000  # characters; code with longer lines is minified or generated, not written
MAX_METADATA_BYTES = 65_536  # metadata (and a turn's extra fields) as JSON


@dataclass
class ParseOutcome:
    items: list[RawItem] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)  # unreadable files, and files refused as secrets
    skipped: list[Skipped] = field(default_factory=list)  # left out of a folder on purpose, with the reason


def readable(path: Path) -> bool:
    """Whether imprint reads files of this type."""
    return path.suffix.lower() in SUPPORTED or language_of(path) is not None


def folder_files(root: Path, max_bytes: int, outcome: ParseOutcome) -> list[Path]:
    """The files of a folder to read (folder.py); what is left out goes into `outcome`."""
    found = walk(root, max_bytes, readable)
    outcome.skipped += found.skipped
    outcome.errors += [ParseError(s.path, f"refused: {s.reason}; nothing from it was stored") for s in found.refused]
    return found.files


def parse_paths(paths: list[Path], max_bytes: int) -> ParseOutcome:
    """Files, and folders read recursively; code in a folder is named by its path inside the folder."""
    outcome = ParseOutcome()
    for root in map(Path, paths):
        if root.is_dir():
            files = [(file, file.relative_to(root).as_posix()) for file in folder_files(root, max_bytes, outcome)]
        elif root.exists():
            files = [(root, None)]
        else:
            outcome.errors.append(ParseError(root, "no such file or folder"))
            continue
        for file, label in files:
            try:
                outcome.items.append(parse_file(file, max_bytes, label))
            except ParseError as error:
                outcome.errors.append(error)
    return outcome


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def parse_file(path: Path, max_bytes: int, label: str | None = None) -> RawItem:
    """One file as a raw item; only regular files are read, and at most `max_bytes` of them.
    `label`: the file's path inside the folder it was found in (code is named by it)."""
    path = Path(path)
    if secret_name(path):
        raise ParseError(path, "refused: its name says it holds credentials; nothing from it was stored")
    if not readable(path):
        raise ParseError(
            path, f"unsupported file type {path.suffix.lower() or '(none)'}; supported: {', '.join(sorted(SUPPORTED))}"
        )
    return parse_data(read_file(path, max_bytes), path, str(path.resolve()), label)


def read_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, at most `max_bytes` of them (ParseError otherwise)."""
    if not _is_regular(path):
        raise ParseError(path, "not a regular file (a device, FIFO, socket or broken link)")
    try:
        with path.open("rb") as file:  # at most the limit, even if the file grows meanwhile
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise ParseError(path, f"cannot be read: {error.strerror}") from None
    if len(data) > max_bytes:
        raise ParseError(path, f"over the limit of {max_bytes:,} bytes (IMPRINT_MAX_FILE_BYTES)")
    return data


def file_digest(data: bytes, name: str | Path) -> str:
    """The content hash the store gives the item `parse_data` makes of these bytes, without parsing
    them: of the bytes for PDF and HTML (kept as they came), of the decoded text otherwise."""
    kept = data if Path(name).suffix.lower() in HTML_SUFFIXES | {".pdf"} else _decode(name, data).encode()
    return hashlib.sha256(kept).hexdigest()


def parse_data(data: bytes, name: str | Path, source: str, label: str | None = None) -> RawItem:
    """A file's bytes as a raw item, by the type its `name` says (uploads are parsed in memory, never
    written to disk). Whatever goes wrong in a parser becomes a ParseError that names `name` only."""
    try:
        item = _parse_data(data, name, source, label)
        # what is stored, decoded: a .json file's "\u0041KIA..." is an AWS key once parsed
        _refuse_secrets(name, "\n".join(segment.text for segment in item.segments))
        check_unicode(item)
        item.replaces = True  # a file added again after an edit replaces what its old version said
        return item
    except ParseError as error:
        raise ParseError(name, error.reason) from None
    except RecursionError:
        raise ParseError(name, "nested too deeply to read") from None
    except MemoryError:
        raise ParseError(name, "too large to read into memory") from None
    except Exception as error:  # a third-party parser on untrusted bytes: name the file, keep the rest going
        raise ParseError(name, f"could not be read ({type(error).__name__}: {error})"[:300]) from None


def _parse_data(data: bytes, name: str | Path, source: str, label: str | None) -> RawItem:
    suffix = Path(name).suffix.lower()
    if not readable(Path(name)):
        raise ParseError(
            name,
            f"unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED))}"
            ", source code and configuration files",
        )
    if not data.strip():
        raise ParseError(name, "the file is empty")
    if suffix == ".pdf":
        return _document(source, _refuse_secrets(name, _pdf_text(name, data)), original=data)
    if suffix in HTML_SUFFIXES:
        return _document(source, _refuse_secrets(name, _html_text(_decode(name, data))), original=data)
    text = _refuse_secrets(name, _decode(name, data))
    if suffix in TEXT_SUFFIXES:
        return _document(source, text)
    if suffix not in SUPPORTED:
        return _code(source, text, label or Path(name).as_posix())  # a file on its own: named as given
    try:
        turns, metadata = _json_turns(name, text, lines=suffix == ".jsonl")
    except ParseError as error:
        if label is None or error.reason.startswith("malformed"):
            raise
        return _code(source, text, label)  # JSON in a folder that is not a conversation: configuration
    return RawItem(source=source, kind="conversation", content=text, segments=turns, metadata=metadata)


def _code(source: str, text: str, path: str) -> RawItem:
    """Source code or configuration: one memory per symbol, or per window of lines (code.py)."""
    lengths = [len(line) for line in text.splitlines()]
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    if lengths[longest] > MAX_CODE_LINE:
        raise ParseError(
            path, f"looks minified or generated (line {longest + 1} has {lengths[longest]:,} characters); not read"
        )
    segments = code_segments(text, path)
    if not segments:
        raise ParseError(path, "no text could be extracted")
    return RawItem(source=source, kind="code", content=text, segments=segments)


def _refuse_secrets(name: str | Path, text: str) -> str:
    secret = find_secret(text)
    if secret:
        raise ParseError(name, f"refused: it looks like it holds {secret}; nothing from it was stored")
    return text


def check_json_shape(value: Any, where: object, what: str = "metadata") -> None:
    """Refuse values nested deeper than MAX_NESTING or larger than MAX_METADATA_BYTES as JSON (stored,
    they would break every later listing and search of the space: RecursionError when encoded), and
    numbers that are not finite."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):  # JSON has no NaN: it would read back as null
            raise ParseError(where, f"{what} holds {item}, which is not a finite number")
        if isinstance(item, (dict, list)):
            if depth > MAX_NESTING:
                raise ParseError(where, f"{what} is nested more than {MAX_NESTING} levels deep")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace"))
    if size > MAX_METADATA_BYTES:
        raise ParseError(where, f"{what} is {size:,} bytes as JSON; the limit is {MAX_METADATA_BYTES:,}")


def text_item(text: str, source: str, time: str | None = None, metadata: dict | None = None) -> RawItem:
    """A raw item for text handed over directly (not from a file)."""
    check_json_shape(metadata or {}, source)
    return RawItem(
        source=source,
        kind="text",
        content=text,
        time=time,
        metadata=metadata or {},
        segments=[Segment(text=text, time=time)],
    )


def check_unicode(item: RawItem) -> None:
    """Refuse text that cannot be stored or sent back as UTF-8 (lone surrogates from a bad client)."""
    fields = [item.source, item.content, item.time, json.dumps(item.metadata, ensure_ascii=False)]
    fields += [
        value
        for segment in item.segments
        for value in (segment.text, segment.speaker, segment.time, json.dumps(segment.metadata, ensure_ascii=False))
    ]
    for value in fields:
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError as error:
            raise ParseError(
                item.source.encode("utf-8", "replace").decode(),
                f"text is not valid Unicode (a lone surrogate at character {error.start})",
            ) from None


def conversation_item(turns: list[dict[str, Any]], source: str) -> RawItem:
    """A raw item for chat turns handed over directly: `{speaker|role, text|content, time?}`."""
    content = json.dumps(turns, ensure_ascii=False)
    return RawItem(
        source=source,
        kind="conversation",
        content=content,
        segments=[_turn(source, i, turn) for i, turn in enumerate(turns)],
    )


def _document(source: str, text: str, original: bytes | None = None) -> RawItem:
    if not text.strip():
        raise ParseError(source, "no text could be extracted")
    return RawItem(source=source, kind="document", content=text, original=original, segments=[Segment(text=text)])


def _decode(path: str | Path, data: bytes) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError(path, "looks like a binary file (NUL bytes), not text")
    for bom, encoding, label in (
        (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
        (b"\xff\xfe", "utf-16", "UTF-16"),
        (b"\xfe\xff", "utf-16", "UTF-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise ParseError(
                    path, f"not valid {label} after its byte-order mark (byte {error.start}: {error.reason})"
                ) from None
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


def _pdf_text(path: str | Path, data: bytes) -> str:
    from .pdf import PdfError, pdf_text

    try:
        return pdf_text(data)
    except PdfError as error:
        raise ParseError(path, str(error)) from None


def _json_turns(path: str | Path, text: str, lines: bool) -> tuple[list[Segment], dict[str, Any]]:
    """A conversation's turns, and metadata of the whole (an agent's session: its id and folder)."""
    try:
        data = [json.loads(line) for line in text.splitlines() if line.strip()] if lines else json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(path, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    if isinstance(data, dict):
        data = data.get("turns") or data.get("messages") or data.get("conversation") or data
    if isinstance(data, list) and data and isinstance(data[0], dict) and "conversation" in data[0]:
        return _locomo_turns(path, data), {}
    if not isinstance(data, list) or not data:
        raise ParseError(path, "expected a non-empty list of turns {speaker|role, text|content, time?}")
    if is_agent_log(data):
        turns, metadata = agent_turns(data)
        if not turns:
            raise ParseError(path, "an agent's session log with nothing said in it (only tool calls)")
        return turns, metadata
    return [_turn(path, i, turn) for i, turn in enumerate(data)], {}


def _turn(where: object, index: int, turn: Any) -> Segment:
    if not isinstance(turn, dict):
        raise ParseError(where, f"turn {index} is not an object")
    speaker = turn.get("speaker", turn.get("role"))
    text = turn.get("text", turn.get("content"))
    if not isinstance(text, str) or not text.strip():
        raise ParseError(where, f"turn {index} has no text (expected a 'text' or 'content' string)")
    time = turn.get("time", turn.get("timestamp"))
    extra = {k: v for k, v in turn.items() if k not in {"speaker", "role", "text", "content", "time", "timestamp"}}
    check_json_shape(extra, where, f"turn {index}'s extra fields")
    return Segment(
        text=text,
        speaker=str(speaker) if speaker is not None else None,
        time=str(time) if time is not None else None,
        metadata=extra,
    )


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
