"""The embedded store: one SQLite file per space, in WAL mode.

Raw items are kept exactly as they came; chunks (the memories that are searched) and their
vectors point back to their raw item and are written in the same transaction, so a write is
all-or-nothing and a killed process leaves either the whole item or none of it. Keyword search
is a contentless FTS5 table (BM25, porter stemming) the store keeps in step itself; vectors are
float32 BLOBs searched by `VectorIndex`, because this Python's sqlite3 cannot load extensions such
as sqlite-vec (see README).

With a master key the space is encrypted at rest (see crypto.py): contents and vectors are sealed,
the keyword index holds keyed tags instead of words. Forgetting overwrites what it deletes
(secure_delete, a merged keyword index, a truncated WAL), so forgotten text leaves the file.
"""

import hashlib
import hmac
import json
import logging
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..encode.entities import extract_entities
from ..encode.words import STOPWORDS
from ..errors import EncryptionError, NotFoundError
from ..records import Chunk, RawItem, Replacement
from .crypto import SpaceCipher

log = logging.getLogger(__name__)
# Encrypted spaces made since format 2 bind each sealed value to its row (and a memory's text to
# whether it is shown): a ciphertext copied onto another row, or a memory hidden by editing its
# `dropped` column, no longer authenticates. Format 1 spaces keep reading as they were written.
ENCRYPTION_FORMATS = {"aes-gcm-v1": 1, "aes-gcm-v2": 2}

# The files SQLite keeps for one space: the database, its write-ahead log and shared memory, and a
# rollback journal. Exactly these are deleted with the space: never a glob, which would also match
# another space whose name starts with this file's name.
FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")

# Each entry upgrades the schema by one version; PRAGMA user_version records how far a file got.
MIGRATIONS = [
    """
    CREATE TABLE raw_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        time TEXT,
        content TEXT NOT NULL,
        original BLOB,
        metadata TEXT NOT NULL DEFAULT '{}',
        sha256 TEXT NOT NULL,
        added_at TEXT NOT NULL,
        UNIQUE (source, sha256)
    );
    CREATE INDEX raw_items_source ON raw_items (source);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        raw_id INTEGER NOT NULL REFERENCES raw_items (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        speaker TEXT,
        time TEXT,
        tokens INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        added_at TEXT NOT NULL
    );
    CREATE INDEX chunks_raw ON chunks (raw_id);
    CREATE TABLE vectors (
        chunk_id INTEGER PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
        vector BLOB NOT NULL
    );
    CREATE VIRTUAL TABLE chunks_fts USING fts5 (
        text, content='chunks', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('deletions', '0');
    """,
    # The keyword index becomes contentless and store-maintained, so it can index tags instead of
    # words when the space is encrypted (triggers would copy plaintext into it).
    """
    DROP TRIGGER chunks_fts_insert;
    DROP TRIGGER chunks_fts_delete;
    DROP TABLE chunks_fts;
    CREATE VIRTUAL TABLE keywords USING fts5 (text, content='', tokenize='porter unicode61');
    INSERT INTO keywords (rowid, text) SELECT id, text FROM chunks;
    """,
    # Chunks kept raw but not indexed (no vector, no keyword entry) say why here; NULL: a memory.
    """
    ALTER TABLE chunks ADD COLUMN dropped TEXT;
    """,
    # The entity graph: which memories mention which names (keyed tags when encrypted).
    """
    CREATE TABLE entities (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE mentions (
        chunk_id INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        entity_id INTEGER NOT NULL REFERENCES entities (id),
        PRIMARY KEY (chunk_id, entity_id)
    ) WITHOUT ROWID;
    CREATE INDEX mentions_entity ON mentions (entity_id);
    CREATE TABLE superseded (
        chunk_id INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        sentence TEXT NOT NULL,
        now TEXT NOT NULL,
        by_chunk INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        since TEXT
    );
    CREATE INDEX superseded_chunk ON superseded (chunk_id);
    """,
    # A repeat points at the memory it repeats (merge: one memory, several sources), and memories
    # count how often they were used in answers (the consolidation policy reads it).
    """
    ALTER TABLE chunks ADD COLUMN repeat_of INTEGER;
    UPDATE chunks SET repeat_of = CAST(substr(dropped, 16) AS INTEGER) WHERE dropped LIKE 'repeats memory %';
    CREATE INDEX chunks_repeat_of ON chunks (repeat_of);
    ALTER TABLE chunks ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
    """,
    # A memory's subject: the first name it mentions (a passage's title, a turn's speaker). "A
    # mentions the subject of B" is the graph's relation (recall/graph.py); older files are backfilled.
    """
    ALTER TABLE mentions ADD COLUMN subject INTEGER NOT NULL DEFAULT 0;
    """,
    # `imprint check --repair` moves rows that fail their checks here, bytes intact, out of the way.
    """
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        table_name TEXT NOT NULL,
        row_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        row TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
]

_KEYS = {"raw_items": "id", "chunks": "id", "vectors": "chunk_id", "superseded": "rowid"}  # a row's id, by table
_SUBJECT_VERSION = 6  # the migration that marks subjects among mentions (4 added the graph)

_CHUNK_COLUMNS = (
    "c.id, c.raw_id, r.source, c.text, c.speaker, c.time, c.tokens, c.metadata, c.added_at, c.dropped,"
    " c.repeat_of, c.uses"
)


@dataclass
class PreparedChunk:
    """A chunk ready to store: its text, where it came from, and its unit vector."""

    text: str
    tokens: int
    vector: np.ndarray
    speaker: str | None = None
    time: str | None = None
    metadata: dict | None = None
    dropped: str | None = None  # kept raw, not indexed, for this reason
    entities: list[str] | None = None  # names it mentions: its edges in the graph
    # the memory it repeats: a stored id, or a chunk earlier in the same add()
    repeat_of: "int | PreparedChunk | None" = None


@dataclass
class Damage:
    table: str
    row_id: int
    reason: str


@dataclass
class CheckReport:
    integrity: str  # SQLite's own verdict on the file ("ok")
    rows_checked: int
    damaged: list[Damage]
    quarantined: int = 0  # rows moved out with --repair


@dataclass
class AddResult:
    raw_id: int
    chunk_ids: list[int]
    duplicate: bool


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def content_hash(item: RawItem) -> str:
    digest = hashlib.sha256(item.original if item.original is not None else item.content.encode())
    return digest.hexdigest()


def fts_query(text: str, index_text: Callable[[str], str] = str) -> str | None:
    """A safe FTS5 query from free text: the non-stopword words (as the index holds them), quoted,
    OR-ed (None if none)."""
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS and len(w) > 1]
    if not words:
        return None
    return " OR ".join(f'"{index_text(w)}"' for w in dict.fromkeys(words))


class SpaceStore:
    """All durable state of one space, in one SQLite file.

    `master_key`: a new space is created encrypted; an existing one must match how it was created.
    """

    def __init__(self, path: Path, master_key: bytes | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        self._lock = threading.RLock()
        self._identity = _file_identity(self.path)
        self._format = 0  # the encryption format; 0: not encrypted
        self.damaged: dict[tuple[str, int], str] = {}  # rows found unreadable since opening, and why
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=60000")
        self._conn.execute("PRAGMA secure_delete=ON")
        try:
            before = self._migrate(master_key)
            self.cipher = self._open_cipher(master_key)
            if 0 < before < _SUBJECT_VERSION:
                self._backfill_mentions()
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self, master_key: bytes | None) -> int:
        """Bring the schema up to date (returns the version it had); a new file with a key is marked
        encrypted in the same transaction."""
        with self._lock, self._write():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={number}")
            if version == 0 and master_key is not None:
                salt = os.urandom(16)
                self._conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("encryption", "aes-gcm-v2"), ("salt", salt.hex()),
                    ("key_check", SpaceCipher(master_key, salt).check_value())])
        return version

    def _backfill_mentions(self) -> None:
        """A file from before the graph or its subjects: find the names its memories mention, once."""
        with self._lock, self._write():
            self._conn.execute("DELETE FROM mentions")
            rows = self._conn.execute("SELECT id, raw_id, text FROM chunks WHERE dropped IS NULL").fetchall()
            for chunk_id, raw_id, text in rows:
                self._add_mentions(chunk_id, extract_entities(self._open_text(text, chunk_id, raw_id)))
            self._drop_unmentioned_entities()  # names an older extractor found and this one does not

    def _open_cipher(self, master_key: bytes | None) -> SpaceCipher | None:
        name = self.path.stem
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        if "encryption" not in meta:
            if master_key is not None:
                raise EncryptionError(f"space {name!r} was created without encryption and a key is set; "
                                      "it cannot be encrypted in place: add its data to a new space")
            return None
        if master_key is None:
            raise EncryptionError(f"space {name!r} is encrypted: set IMPRINT_KEY_FILE or IMPRINT_KEY")
        if meta["encryption"] not in ENCRYPTION_FORMATS:
            raise EncryptionError(f"space {name!r} uses encryption {meta['encryption']!r}, unknown to this imprint")
        cipher = SpaceCipher(master_key, bytes.fromhex(meta["salt"]))
        if not hmac.compare_digest(cipher.check_value(), meta["key_check"]):
            raise EncryptionError(f"wrong key for space {name!r}: it was encrypted with another key")
        self._format = ENCRYPTION_FORMATS[meta["encryption"]]
        return cipher

    # --- field encoding: plaintext, or sealed when the space is encrypted ----------------

    def _field(self, field: str, *row: object) -> str:
        """The associated data a value is sealed with: its column, and from format 2 its row."""
        return ":".join([field, *map(str, row)]) if self._format >= 2 else field

    def _seal(self, text: str | None, field: str) -> str | bytes | None:
        return text if self.cipher is None else self.cipher.seal_text(text, field)

    def _seal_text(self, text: str, chunk_id: int, raw_id: int, shown: bool) -> str | bytes:
        """A chunk's text, bound to its row and to whether it is a memory or kept raw only."""
        return self._seal(text, self._field("chunk.text", chunk_id, raw_id, "memory" if shown else "dropped"))

    def _open_text(self, value: str | bytes, chunk_id: int, raw_id: int, shown: bool = True) -> str:
        return self._open(value, self._field("chunk.text", chunk_id, raw_id, "memory" if shown else "dropped"))

    def _seal_plain_in_v1(self, text: str | None, field: str) -> str | bytes | None:
        """Columns format 1 left in plaintext (a dropped chunk's reason, since when a sentence was
        replaced): sealed from format 2 on."""
        return self._seal(text, field) if self._format >= 2 else text

    def _open_plain_in_v1(self, value: str | bytes | None, field: str) -> str | None:
        return self._open(value, field) if self._format >= 2 else value

    def _open(self, value: str | bytes | None, field: str) -> str | None:
        return value if self.cipher is None else self.cipher.open_text(value, field)

    def _source_key(self, source: str) -> str | bytes:
        return source if self.cipher is None else self.cipher.seal_fixed(source, "source")

    def _index_text(self, text: str) -> str:
        return text if self.cipher is None else self.cipher.keyword_tags(text)

    def _open_source(self, value: str | bytes) -> str:
        return value if self.cipher is None else self.cipher.open_fixed(value, "source")

    def _row_to_chunk(self, row: tuple) -> Chunk:
        chunk_id, raw_id = row[0], row[1]
        return Chunk(
            id=chunk_id, raw_id=raw_id, source=self._open_source(row[2]),
            text=self._open_text(row[3], chunk_id, raw_id, shown=row[9] is None),
            speaker=self._open(row[4], self._field("chunk.speaker", chunk_id, raw_id)),
            time=self._open(row[5], self._field("chunk.time", chunk_id, raw_id)), tokens=row[6],
            metadata=json.loads(self._open(row[7], self._field("chunk.metadata", chunk_id, raw_id))), added_at=row[8],
            dropped=self._open_plain_in_v1(row[9], self._field("chunk.dropped", chunk_id)),
            repeat_of=row[10], uses=row[11],
        )

    def _readable(self, rows: list[tuple]) -> list[Chunk]:
        """Chunks from rows, leaving out (and reporting) rows that are damaged: one flipped byte must
        not make a whole space unreadable. `imprint check --repair` moves them out."""
        chunks = []
        for row in rows:
            try:
                chunks.append(self._row_to_chunk(row))
            except (EncryptionError, ValueError, UnicodeDecodeError) as error:
                self._damage("chunks", row[0], error)
        return chunks

    def _damage(self, table: str, row_id: int, error: Exception) -> None:
        if (table, row_id) not in self.damaged:
            log.warning("space %r: %s row %d is damaged and left out (%s); run imprint check --repair",
                        self.path.stem, table, row_id, error)
        self.damaged[(table, row_id)] = str(error)

    def _seal_bytes(self, data: bytes | None, field: str) -> bytes | None:
        return data if self.cipher is None or data is None else self.cipher.seal(data, field)

    def _open_bytes(self, data: bytes | None, field: str) -> bytes | None:
        return data if self.cipher is None or data is None else self.cipher.open(data, field)

    def _write(self) -> "_Transaction":
        return _Transaction(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def is_replaced(self) -> bool:
        """Whether the file was deleted or replaced since it was opened (another process forgot the
        space): one stat, so a long-running server checks it on every request and writes nothing into
        an unlinked file."""
        return _file_identity(self.path) != self._identity

    # --- writing -------------------------------------------------------------------------

    def add(self, items: list[tuple[RawItem, list[PreparedChunk]]]) -> list[AddResult]:
        """Store raw items with their chunks and vectors in one transaction.

        An item already stored from the same source with the same content is skipped
        (re-adding a folder is idempotent) and reported as a duplicate.
        """
        results = []
        stored: dict[int, int] = {}  # id() of a prepared chunk -> its row id, for repeats within the batch
        with self._lock, self._write():
            for item, chunks in items:
                digest = content_hash(item)
                if self.cipher is not None:  # a plain hash would confirm a guessed content
                    digest = self.cipher.tag(digest)
                source = self._source_key(item.source)
                existing = self._conn.execute(
                    "SELECT id FROM raw_items WHERE source = ? AND sha256 = ?", (source, digest)
                ).fetchone()
                if existing:
                    ids = [r[0] for r in self._conn.execute(
                        "SELECT id FROM chunks WHERE raw_id = ? ORDER BY position", existing)]
                    results.append(AddResult(existing[0], ids, duplicate=True))
                    continue
                now = _now()
                raw_id = self._next_id("raw_items")  # known before sealing: the row is bound in
                self._conn.execute(
                    "INSERT INTO raw_items (id, source, kind, time, content, original, metadata, sha256, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (raw_id, source, item.kind, self._seal(item.time, self._field("raw.time", raw_id)),
                     self._seal(item.content, self._field("raw.content", raw_id)),
                     self._seal_bytes(item.original, self._field("raw.original", raw_id)),
                     self._seal(json.dumps(item.metadata), self._field("raw.metadata", raw_id)), digest, now))
                chunk_ids = []
                for position, chunk in enumerate(chunks):
                    repeat_of = chunk.repeat_of
                    if isinstance(repeat_of, PreparedChunk):
                        repeat_of = stored.get(id(repeat_of))
                    chunk_id = self._next_id("chunks")
                    self._conn.execute(
                        "INSERT INTO chunks (id, raw_id, position, text, speaker, time, tokens, metadata, added_at,"
                        " dropped, repeat_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (chunk_id, raw_id, position, self._seal_text(chunk.text, chunk_id, raw_id, not chunk.dropped),
                         self._seal(chunk.speaker, self._field("chunk.speaker", chunk_id, raw_id)),
                         self._seal(chunk.time, self._field("chunk.time", chunk_id, raw_id)), chunk.tokens,
                         self._seal(json.dumps(chunk.metadata or {}), self._field("chunk.metadata", chunk_id, raw_id)),
                         now, self._seal_plain_in_v1(chunk.dropped, self._field("chunk.dropped", chunk_id)), repeat_of))
                    chunk_ids.append(chunk_id)
                    stored[id(chunk)] = chunk_id
                    if chunk.dropped:
                        continue
                    vector = np.asarray(chunk.vector, dtype=np.float32).tobytes()
                    self._conn.execute("INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
                                       (chunk_id, self._seal_bytes(vector, self._field("vector", chunk_id))))
                    self._conn.execute("INSERT INTO keywords (rowid, text) VALUES (?, ?)",
                                       (chunk_id, self._index_text(chunk.text)))
                    self._add_mentions(chunk_id, chunk.entities or [])
                results.append(AddResult(raw_id, chunk_ids, duplicate=False))
        return results

    def _next_id(self, table: str) -> int:
        """The id AUTOINCREMENT would give the next row (call inside the write transaction)."""
        used = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        highest = self._conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
        return max(used[0] if used else 0, highest or 0) + 1

    def _entity_key(self, name: str) -> str:
        return name if self.cipher is None else self.cipher.tag(name)

    def _add_mentions(self, chunk_id: int, names: list[str]) -> None:
        """`names` in order of first mention: the first is the memory's subject."""
        keys = [self._entity_key(name) for name in names]
        self._conn.executemany("INSERT OR IGNORE INTO entities (name) VALUES (?)", [(k,) for k in sorted(keys)])
        self._conn.executemany("INSERT OR IGNORE INTO mentions (chunk_id, entity_id, subject) "
                               "SELECT ?, id, ? FROM entities WHERE name = ?",
                               [(chunk_id, position == 0, k) for position, k in enumerate(keys)])

    def entities_named(self, names: set[str]) -> dict[int, int]:
        """Entity id -> how many memories mention it, for those of `names` the space knows."""
        keys = [self._entity_key(name) for name in names]
        if not keys:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT e.id, count(m.chunk_id) FROM entities e JOIN mentions m ON m.entity_id = e.id"
                f" WHERE e.name IN ({','.join('?' * len(keys))}) GROUP BY e.id", keys).fetchall()
        return dict(rows)

    def memories_mentioning(self, name: str, before: int, limit: int = 200) -> list[int]:
        """Ids below `before` of the (at most `limit` latest) memories that mention `name`."""
        with self._lock:
            return [row[0] for row in self._conn.execute(
                "SELECT m.chunk_id FROM mentions m JOIN entities e ON e.id = m.entity_id"
                " WHERE e.name = ? AND m.chunk_id < ? ORDER BY m.chunk_id DESC LIMIT ?",
                (self._entity_key(name), before, limit))]

    def supersede(self, replaced: list[tuple[int, str, str, int, str | None]]) -> None:
        """Record (older memory, its replaced sentence, what it says now, newer memory, since when)."""
        if not replaced:  # most ingest batches replace nothing: take no write lock for them
            return
        with self._lock, self._write():
            self._conn.executemany(
                "INSERT INTO superseded (chunk_id, sentence, now, by_chunk, since) VALUES (?, ?, ?, ?, ?)",
                [(old, self._seal(sentence, self._field("superseded.sentence", old, new)),
                  self._seal(now, self._field("superseded.now", old, new)), new,
                  self._seal_plain_in_v1(since, self._field("superseded.since", old, new)))
                 for old, sentence, now, new, since in replaced])

    def replaced_sentences(self, ids: list[int]) -> dict[int, list[Replacement]]:
        """For these memories, the sentences newer memories replaced, oldest change first."""
        if not ids:
            return {}
        out: dict[int, list[Replacement]] = {}
        with self._lock:
            rows = self._conn.execute(f"SELECT chunk_id, sentence, now, by_chunk, since FROM superseded WHERE chunk_id IN "
                                      f"({','.join('?' * len(ids))}) ORDER BY rowid", ids).fetchall()
        for chunk_id, sentence, now, by, since in rows:
            try:
                out.setdefault(chunk_id, []).append(Replacement(
                    self._open(sentence, self._field("superseded.sentence", chunk_id, by)),
                    self._open(now, self._field("superseded.now", chunk_id, by)), by,
                    self._open_plain_in_v1(since, self._field("superseded.since", chunk_id, by))))
            except (EncryptionError, UnicodeDecodeError) as error:
                self._damage("superseded", chunk_id, error)
        return out

    def superseding(self, ids: list[int]) -> set[int]:
        """Which of these memories replaced a sentence of an older one."""
        if not ids:
            return set()
        with self._lock:
            return {row[0] for row in self._conn.execute(
                f"SELECT DISTINCT by_chunk FROM superseded WHERE by_chunk IN ({','.join('?' * len(ids))})", ids)}

    def mention_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM mentions").fetchone()[0]

    def mentions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (memory id, entity id, is its subject) edge of the graph, as three columns."""
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id, entity_id, subject FROM mentions").fetchall()
        edges = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        return edges[:, 0], edges[:, 1], edges[:, 2].astype(bool)

    def delete_memory(self, chunk_id: int,
                      redact: Callable[[str, Chunk, list[Chunk]], str] | None = None) -> list[Chunk]:
        """Delete one memory (chunk, vector, keyword entry) and its repeats; returns them, the memory first.
        A raw item goes with its last chunk. While other memories keep it, `redact(content, forgotten,
        kept)` rewrites its content and the original bytes are dropped, in the same transaction."""
        with self._lock:
            with self._write():
                [chunk] = self.get([chunk_id]) or [None]
                if chunk is None:
                    removed = [self._delete_unreadable_memory(chunk_id)]
                else:
                    removed = [chunk, *self.get([row[0] for row in self._conn.execute(
                        "SELECT id FROM chunks WHERE repeat_of = ? ORDER BY id", (chunk_id,))])]
                    for gone in removed:
                        self._unindex("id = ?", gone.id)
                        self._conn.execute("DELETE FROM chunks WHERE id = ?", (gone.id,))
                        kept = self._chunks_of(gone.raw_id)
                        if not kept:
                            self._conn.execute("DELETE FROM raw_items WHERE id = ?", (gone.raw_id,))
                        elif redact is not None:
                            self._redact_raw(gone, kept, redact)
                self._count_deletion()
            self._scrub()
        return removed

    def _delete_unreadable_memory(self, chunk_id: int) -> Chunk:
        """Forget a memory whose row no longer reads (damaged): it goes all the same, unread."""
        row = self._conn.execute("SELECT raw_id FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no memory {chunk_id} in {self.path.stem!r}")
        self._delete_damaged(["chunks"], [chunk_id])
        return Chunk(chunk_id, row[0], source="", text="", speaker=None, time=None, tokens=0, metadata={},
                     added_at="", dropped="unreadable (damaged)")

    def _redact_raw(self, gone: Chunk, kept: list[Chunk], redact: Callable[[str, Chunk, list[Chunk]], str]) -> None:
        """Take a forgotten memory's sentences out of the raw item its other memories keep; a raw text
        that no longer authenticates is emptied instead (it could not be shown anyway)."""
        field = self._field("raw.content", gone.raw_id)
        sealed = self._conn.execute("SELECT content FROM raw_items WHERE id = ?", (gone.raw_id,)).fetchone()[0]
        try:
            content = redact(self._open(sealed, field), gone, kept)
        except (EncryptionError, UnicodeDecodeError) as error:
            self._damage("raw_items", gone.raw_id, error)
            content = ""
        self._conn.execute("UPDATE raw_items SET content = ?, original = NULL WHERE id = ?",
                           (self._seal(content, field), gone.raw_id))

    def _chunks_of(self, raw_id: int) -> list[Chunk]:
        ids = [row[0] for row in self._conn.execute("SELECT id FROM chunks WHERE raw_id = ? ORDER BY position",
                                                    (raw_id,))]
        return self.get(ids)

    def delete_source(self, source: str) -> list[Chunk]:
        """Delete every raw item from `source` and all that was derived from it; returns its memories.
        A memory another source repeats stays, merged: that source's repeat takes its place."""
        key = self._source_key(source)
        where = "raw_id IN (SELECT id FROM raw_items WHERE source = ?)"
        with self._lock:
            with self._write():
                removed = self.get(self._unindex(where, key))
                self._promote_repeats([m.id for m in removed], key)
                if not self._conn.execute("DELETE FROM raw_items WHERE source = ?", (key,)).rowcount:
                    raise NotFoundError(f"no source {source!r} in {self.path.stem!r}")
                self._count_deletion()
            self._scrub()
        return removed

    def _promote_repeats(self, ids: list[int], leaving_source: str | bytes) -> None:
        """For each memory about to go, its first repeat from another source becomes the memory:
        it takes over the vector (same content words, cosine >= the repeat threshold), names,
        supersession records and the other repeats, and is indexed under its own words."""
        for memory_id in ids:
            row = self._conn.execute(
                "SELECT c.id, c.raw_id, c.text FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                " WHERE c.repeat_of = ? AND r.source != ? ORDER BY c.id LIMIT 1", (memory_id, leaving_source)).fetchone()
            if row is None:
                continue
            heir, raw_id, sealed = row
            text = self._open_text(sealed, heir, raw_id, shown=False)
            self._conn.execute("UPDATE chunks SET dropped = NULL, repeat_of = NULL, text = ? WHERE id = ?",
                               (self._seal_text(text, heir, raw_id, shown=True), heir))
            self._conn.execute("UPDATE chunks SET repeat_of = ? WHERE repeat_of = ?", (heir, memory_id))
            self._conn.execute("UPDATE mentions SET chunk_id = ? WHERE chunk_id = ?", (heir, memory_id))
            self._move_sealed_rows(memory_id, heir)
            self._conn.execute("INSERT INTO keywords (rowid, text) VALUES (?, ?)", (heir, self._index_text(text)))

    def _move_sealed_rows(self, old: int, new: int) -> None:
        """Hand a memory's vector and supersession records to the memory that takes its place; in
        format 2 each is sealed again for its new row."""
        vector = self._conn.execute("SELECT vector FROM vectors WHERE chunk_id = ?", (old,)).fetchone()
        if vector is not None:
            plain = self._open_bytes(vector[0], self._field("vector", old))
            self._conn.execute("UPDATE vectors SET chunk_id = ?, vector = ? WHERE chunk_id = ?",
                               (new, self._seal_bytes(plain, self._field("vector", new)), old))
        rows = self._conn.execute("SELECT rowid, chunk_id, by_chunk, sentence, now, since FROM superseded"
                                  " WHERE chunk_id = ? OR by_chunk = ?", (old, old)).fetchall()
        for rowid, chunk_id, by_chunk, *sealed in rows:
            after = (new if chunk_id == old else chunk_id, new if by_chunk == old else by_chunk)
            fields = ("superseded.sentence", "superseded.now")
            sentence, now = (self._seal(self._open(value, self._field(f, chunk_id, by_chunk)), self._field(f, *after))
                             for f, value in zip(fields, sealed))
            since = self._seal_plain_in_v1(self._open_plain_in_v1(sealed[2], self._field("superseded.since", chunk_id,
                                                                                          by_chunk)),
                                           self._field("superseded.since", *after))
            self._conn.execute("UPDATE superseded SET chunk_id = ?, by_chunk = ?, sentence = ?, now = ?, since = ?"
                               " WHERE rowid = ?", (*after, sentence, now, since, rowid))

    def _unindex(self, where: str, value: object) -> list[int]:
        """Take the chunks matching `where` out of the contentless keyword index (it needs their text)."""
        rows = self._conn.execute(f"SELECT id, raw_id, text FROM chunks WHERE dropped IS NULL AND ({where})",
                                  (value,)).fetchall()
        readable, damaged = [], []
        for chunk_id, raw_id, sealed in rows:
            try:
                readable.append((chunk_id, self._index_text(self._open_text(sealed, chunk_id, raw_id))))
            except (EncryptionError, UnicodeDecodeError):
                damaged.append(chunk_id)
        self._conn.executemany("INSERT INTO keywords (keywords, rowid, text) VALUES ('delete', ?, ?)", readable)
        if damaged:  # a contentless index forgets an entry only given its words: rebuild it without them
            self._rebuild_keywords(exclude=set(damaged))
        return [chunk_id for chunk_id, _, _ in rows]

    def _rebuild_keywords(self, exclude: set[int] = frozenset()) -> None:
        """The keyword index anew from every readable memory (after damaged rows left)."""
        self._conn.execute("INSERT INTO keywords (keywords) VALUES ('delete-all')")
        rows = self._conn.execute("SELECT id, raw_id, text FROM chunks WHERE dropped IS NULL").fetchall()
        for chunk_id, raw_id, sealed in rows:
            if chunk_id in exclude:
                continue
            try:
                text = self._open_text(sealed, chunk_id, raw_id)
            except (EncryptionError, UnicodeDecodeError):
                continue
            self._conn.execute("INSERT INTO keywords (rowid, text) VALUES (?, ?)", (chunk_id, self._index_text(text)))

    def _delete_damaged(self, tables: list[str], ids: list[int]) -> None:
        """Delete rows that cannot be read (their vectors, names and records go with a chunk)."""
        chunk_ids = [i for t, i in zip(tables, ids) if t == "chunks"]
        raw_ids = {row[0] for row in self._conn.execute(
            f"SELECT raw_id FROM chunks WHERE id IN ({','.join('?' * len(chunk_ids))})", chunk_ids)}
        for table, row_id in zip(tables, ids):
            self._conn.execute(f"DELETE FROM {table} WHERE {_KEYS[table]} = ?", (row_id,))
        for raw_id in raw_ids:  # a raw item goes with its last chunk, as in forgetting
            self._conn.execute("DELETE FROM raw_items WHERE id = ? AND NOT EXISTS"
                               " (SELECT 1 FROM chunks WHERE raw_id = ?)", (raw_id, raw_id))
        if chunk_ids or "raw_items" in tables:
            self._rebuild_keywords()
        for table, row_id in zip(tables, ids):
            self.damaged.pop((table, row_id), None)

    def _scrub(self) -> None:
        """Make deletions physical: merge the keyword index (dropping deleted entries) and move the
        WAL into the file, whose freed pages secure_delete has zeroed."""
        with self._write():
            self._conn.execute("INSERT INTO keywords (keywords) VALUES ('optimize')")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _count_deletion(self) -> None:
        """Every deletion ends here: names no memory mentions any more leave the graph too."""
        self._drop_unmentioned_entities()
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'deletions'")

    def _drop_unmentioned_entities(self) -> None:
        self._conn.execute("DELETE FROM entities WHERE NOT EXISTS (SELECT 1 FROM mentions WHERE entity_id = entities.id)")

    # --- reading -------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM chunks WHERE dropped IS NULL").fetchone()[0]

    def total_tokens(self) -> int:
        """Embedder tokens over all memories: what reading the whole space would cost, roughly."""
        with self._lock:
            return self._conn.execute("SELECT coalesce(sum(tokens), 0) FROM chunks WHERE dropped IS NULL").fetchone()[0]

    def get(self, ids: list[int]) -> list[Chunk]:
        """The memories with these ids, in the order asked (missing ids are left out)."""
        if not ids:
            return []
        with self._lock:
            marks = ",".join("?" * len(ids))
            rows = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE c.id IN ({marks})", ids).fetchall()
        by_id = {chunk.id: chunk for chunk in self._readable(rows)}
        return self._with_repeat_sources([by_id[i] for i in ids if i in by_id])

    def _with_repeat_sources(self, chunks: list[Chunk]) -> list[Chunk]:
        """Fill `also_from`: the sources that repeat each memory (a merged memory has several)."""
        ids = [c.id for c in chunks]
        if not ids:
            return chunks
        with self._lock:
            rows = self._conn.execute(
                f"SELECT c.repeat_of, r.source FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE c.repeat_of IN ({','.join('?' * len(ids))}) ORDER BY c.id", ids).fetchall()
        sources: dict[int, list[str]] = {}
        for memory_id, source in rows:
            try:
                sources.setdefault(memory_id, []).append(self._open_source(source))
            except EncryptionError:
                continue  # a damaged repeat's source: the memory still shows
        for chunk in chunks:
            chunk.also_from = [s for s in dict.fromkeys(sources.get(chunk.id, [])) if s != chunk.source]
        return chunks

    def list_memories(self, limit: int = 50, offset: int = 0, dropped: bool = False) -> list[Chunk]:
        """The memories in id order; with `dropped`, instead the chunks kept raw but not indexed."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE c.dropped IS {'NOT ' if dropped else ''}NULL ORDER BY c.id LIMIT ? OFFSET ?",
                (limit, offset)).fetchall()
        return self._with_repeat_sources(self._readable(rows))

    def record_use(self, ids: list[int]) -> None:
        """Count that these memories were put in front of the model for an answer."""
        if ids:
            with self._lock, self._write():
                self._conn.execute(f"UPDATE chunks SET uses = uses + 1 WHERE id IN ({','.join('?' * len(ids))})",
                                   ids)

    def stable_memories(self, unchanged_since: str, min_uses: int) -> list[int]:
        """Memories added before `unchanged_since` that no newer memory changed after it, used in at
        least `min_uses` answers: the consolidation policy's candidates, in id order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id FROM chunks c WHERE c.dropped IS NULL AND c.added_at <= ? AND c.uses >= ?"
                " AND NOT EXISTS (SELECT 1 FROM superseded s JOIN chunks n ON n.id = s.by_chunk"
                "                 WHERE s.chunk_id = c.id AND n.added_at > ?)"
                " ORDER BY c.id", (unchanged_since, min_uses, unchanged_since)).fetchall()
        return [row[0] for row in rows]

    def raw_item(self, raw_id: int) -> RawItem:
        with self._lock:
            row = self._conn.execute(
                "SELECT source, kind, content, time, metadata, original FROM raw_items WHERE id = ?",
                (raw_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no raw item {raw_id} in {self.path.stem!r}")
        return RawItem(source=self._open_source(row[0]), kind=row[1],
                       content=self._open(row[2], self._field("raw.content", raw_id)), segments=[],
                       time=self._open(row[3], self._field("raw.time", raw_id)),
                       metadata=json.loads(self._open(row[4], self._field("raw.metadata", raw_id))),
                       original=self._open_bytes(row[5], self._field("raw.original", raw_id)))

    def keyword_search(self, query: str, limit: int) -> list[int]:
        """Memory ids by BM25 rank for the words of `query`."""
        match = fts_query(query, self._index_text)
        if match is None:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT rowid FROM keywords WHERE keywords MATCH ? ORDER BY rank LIMIT ?",
                (match, limit)).fetchall()
        return [row[0] for row in rows]

    def deletions(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT value FROM meta WHERE key = 'deletions'").fetchone()[0])

    def vectors_after(self, chunk_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and vectors of memories with id > chunk_id, in id order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT chunk_id, vector FROM vectors WHERE chunk_id > ? ORDER BY chunk_id", (chunk_id,)
            ).fetchall()
        good, blobs = [], []
        for chunk_id, blob in rows:
            try:
                plain = self._open_bytes(blob, self._field("vector", chunk_id))
            except EncryptionError as error:
                self._damage("vectors", chunk_id, error)
                continue
            if blobs and len(plain) != len(blobs[0]) or len(plain) % 4:
                self._damage("vectors", chunk_id, ValueError(f"{len(plain)} bytes, not a vector of this space"))
                continue
            good.append(chunk_id)
            blobs.append(plain)
        ids = np.asarray(good, dtype=np.int64)
        if not blobs:
            return ids, np.zeros((0, 0), dtype=np.float32)
        return ids, np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)

    # --- checking ------------------------------------------------------------------------

    def check(self, repair: bool = False) -> CheckReport:
        """SQLite's integrity check, then every row read back (sealed ones authenticated); with
        `repair`, rows that fail are moved to the quarantine table and the keyword index rebuilt."""
        with self._lock:
            integrity = "; ".join(r[0] for r in self._conn.execute("PRAGMA integrity_check").fetchall())
            damaged, checked = [], 0
            for table, rows, read in self._check_plan():
                for row in rows:
                    checked += 1
                    try:
                        read(row)
                    except (EncryptionError, ValueError, UnicodeDecodeError, TypeError) as error:
                        damaged.append(Damage(table, row[0], str(error)))
            bad = {(d.table, d.row_id) for d in damaged}
            dims = {len(self._open_bytes(b, self._field("vector", i))) for i, b in self._conn.execute(
                "SELECT chunk_id, vector FROM vectors").fetchall() if ("vectors", i) not in bad}
            if len(dims) > 1:
                damaged.append(Damage("vectors", 0, f"vectors of {sorted(dims)} bytes: mixed sizes"))
            report = CheckReport(integrity, checked, damaged)
            if repair and damaged:
                with self._write():
                    for damage in damaged:
                        row = self._conn.execute(
                            f"SELECT * FROM {damage.table} WHERE {_KEYS[damage.table]} = ?", (damage.row_id,)).fetchone()
                        if row is None:
                            continue
                        as_text = json.dumps([v.hex() if isinstance(v, bytes) else v for v in row])
                        self._conn.execute("INSERT INTO quarantine (table_name, row_id, reason, row, at)"
                                           " VALUES (?, ?, ?, ?, ?)", (damage.table, damage.row_id, damage.reason,
                                                                       as_text, _now()))
                        report.quarantined += 1
                    self._delete_damaged([d.table for d in damaged], [d.row_id for d in damaged])
                    self._count_deletion()
                self._scrub()
        return report

    def _check_plan(self) -> list[tuple[str, list[tuple], Callable[[tuple], object]]]:
        """(table, its rows, how to read one) for every table holding stored content."""
        c = self._conn

        def raw(row: tuple) -> None:
            self._open_source(row[1])
            for field, value in zip(("raw.time", "raw.content"), row[2:4]):
                self._open(value, self._field(field, row[0]))
            json.loads(self._open(row[4], self._field("raw.metadata", row[0])))
            self._open_bytes(row[5], self._field("raw.original", row[0]))

        def superseded(row: tuple) -> None:
            for field, value in zip(("superseded.sentence", "superseded.now"), row[3:5]):
                self._open(value, self._field(field, row[1], row[2]))
            self._open_plain_in_v1(row[5], self._field("superseded.since", row[1], row[2]))

        def vector(row: tuple) -> None:
            if len(self._open_bytes(row[1], self._field("vector", row[0]))) % 4:
                raise ValueError("not a float32 vector")

        return [
            ("raw_items", c.execute("SELECT id, source, time, content, metadata, original FROM raw_items").fetchall(), raw),
            ("chunks", c.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN raw_items r ON r.id = c.raw_id").fetchall(),
             self._row_to_chunk),
            ("vectors", c.execute("SELECT chunk_id, vector FROM vectors").fetchall(), vector),
            ("superseded", c.execute("SELECT rowid, chunk_id, by_chunk, sentence, now, since FROM superseded").fetchall(),
             superseded),
        ]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: the all-or-nothing write."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
