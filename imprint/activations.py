"""Activation memory: the kept attention state (KV) of a space's context prompt, one file per reader.

    <data_dir>/activations/<space>/<key>.kv     key: the reader file's sha256 and the prompt format

The context tier writes a space's memories first, in the order they were added, and the question
after them (prompt.py `context_prompt`), so that start is the same for every question and grows
only at its end. Its state is computed once and kept here; a later question loads it and computes
only what is new (llm/llamacpp.py). Which memories a file covers is its tokens: a load reuses the
part they share with the prompt of now.

A file: a magic line, a header line (JSON: space, key, tokens, the body's sha256) and the body (the
tokens, then llama.cpp's bytes). An encrypted space seals the body with its key, bound to the
space and the key, as its adapters are. A damaged, foreign or other reader's file is refused,
deleted and computed again, never handed to llama.cpp. These activations are the memories' text in
another form: forget, update and supersession drop a space's files, and deleting the space removes
them. All spaces' files stay under `limit` bytes; the least recently used go first.
"""

import functools
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from pathlib import Path

from .errors import EncryptionError
from .store.crypto import SpaceCipher

MAGIC = b"imprint-kv 1\n"
SUFFIX = ".kv"
log = logging.getLogger(__name__)


class DamagedState(ValueError):
    """A kept state that is not what its name says (damaged, foreign or another reader's)."""


class ActivationStates:
    """The kept prompt states of one space."""

    def __init__(self, root: Path, space: str, cipher: SpaceCipher | None, limit: int) -> None:
        self.root = Path(root) / "activations"
        self.dir = self.root / space
        self.space = space
        self.cipher = cipher
        self.limit = limit

    def slot(self, reader: Path, prompt_format: str) -> "KeptPrefix":
        """Where the state of this reader's prompt for this space is kept."""
        key = hashlib.sha256(f"{file_digest(reader)}\n{prompt_format}".encode()).hexdigest()[:24]
        return KeptPrefix(self, key)

    def files(self) -> list[Path]:
        return sorted(self.dir.glob(f"*{SUFFIX}")) if self.dir.exists() else []

    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files())

    def drop(self) -> None:
        """Delete every kept state of the space (its memories changed other than at the end)."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def _evict(self, keep: Path) -> None:
        """Delete the least recently used files of every space until all fit under the limit."""
        files = sorted(self.root.glob(f"*/*{SUFFIX}"), key=lambda p: p.stat().st_mtime_ns)
        total = sum(p.stat().st_size for p in files)
        for path in files:
            if total <= self.limit:
                break
            if path != keep or keep.stat().st_size > self.limit:
                total -= path.stat().st_size
                path.unlink(missing_ok=True)


class KeptPrefix:
    """One reader's kept state in one space (`records.PrefixCache`)."""

    def __init__(self, states: ActivationStates, key: str) -> None:
        self.states = states
        self.key = key
        self.path = states.dir / f"{key}{SUFFIX}"

    def load(self) -> tuple[list[int], bytes] | None:
        """The kept tokens and state, or None (nothing kept, or a file refused and deleted)."""
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            kept = self._parse(blob)
        except (DamagedState, EncryptionError) as error:
            log.warning("refused the kept context state %s (%s): deleted, to be computed again", self.path, error)
            self.drop()
            return None
        os.utime(self.path)  # recently used: evicted last
        return kept

    def save(self, tokens: list[int], state: bytes) -> None:
        """Keep `state` for `tokens` (written whole or not at all), then fit every space's files under the limit."""
        body = struct.pack("<I", len(tokens)) + struct.pack(f"<{len(tokens)}i", *tokens) + state
        if self.states.cipher is not None:
            body = self.states.cipher.seal(body, self._field())
        header = {"space": self.states.space, "key": self.key, "tokens": len(tokens)}
        header["sha256"] = hashlib.sha256(body).hexdigest()
        self.states.dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.states.dir, suffix=".partial", delete=False) as partial:
            partial.write(MAGIC + json.dumps(header).encode() + b"\n" + body)
        os.replace(partial.name, self.path)
        self.states._evict(self.path)

    def drop(self) -> None:
        self.path.unlink(missing_ok=True)

    def _parse(self, blob: bytes) -> tuple[list[int], bytes]:
        if not blob.startswith(MAGIC) or b"\n" not in blob[len(MAGIC) :]:
            raise DamagedState("not a kept state file")
        line, body = blob[len(MAGIC) :].split(b"\n", 1)
        try:
            header = json.loads(line)
        except ValueError as error:
            raise DamagedState("unreadable header") from error
        if header.get("space") != self.states.space or header.get("key") != self.key:
            raise DamagedState(f"it belongs to {header.get('space')!r}/{header.get('key')!r}")
        if hashlib.sha256(body).hexdigest() != header.get("sha256"):
            raise DamagedState("its bytes do not match their checksum")
        if self.states.cipher is not None:
            body = self.states.cipher.open(body, self._field())
        if len(body) < 4:
            raise DamagedState("too short")
        (count,) = struct.unpack_from("<I", body)
        if count != header.get("tokens") or len(body) < 4 + 4 * count:
            raise DamagedState("its token count does not match")
        tokens = list(struct.unpack_from(f"<{count}i", body, 4))
        return tokens, body[4 + 4 * count :]

    def _field(self) -> str:
        """Bound into the ciphertext: a sealed state moved to another space or reader does not open."""
        return f"activations/{self.states.space}/{self.key}"


def file_digest(path: Path) -> str:
    """The sha256 of a model file, computed once per process per file version (1.5 GB: ~1 s)."""
    stat = Path(path).stat()
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _digest(path: str, size: int, mtime: int) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
