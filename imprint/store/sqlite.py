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
]

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
                    ("encryption", "aes-gcm-v1"), ("salt", salt.hex()),
                    ("key_check", SpaceCipher(master_key, salt).check_value())])
        return version

    def _backfill_mentions(self) -> None:
        """A file from before the graph or its subjects: find the names its memories mention, once."""
        with self._lock, self._write():
            self._conn.execute("DELETE FROM mentions")
            rows = self._conn.execute("SELECT id, text FROM chunks WHERE dropped IS NULL").fetchall()
            for chunk_id, text in rows:
                self._add_mentions(chunk_id, extract_entities(self._open(text, "chunk.text")))
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
        cipher = SpaceCipher(master_key, bytes.fromhex(meta["salt"]))
        if not hmac.compare_digest(cipher.check_value(), meta["key_check"]):
            raise EncryptionError(f"wrong key for space {name!r}: it was encrypted with another key")
        return cipher

    # --- field encoding: plaintext, or sealed when the space is encrypted ----------------

    def _seal(self, text: str | None, field: str) -> str | bytes | None:
        return text if self.cipher is None else self.cipher.seal_text(text, field)

    def _open(self, value: str | bytes | None, field: str) -> str | None:
        return value if self.cipher is None else self.cipher.open_text(value, field)

    def _source_key(self, source: str) -> str | bytes:
        return source if self.cipher is None else self.cipher.seal_fixed(source, "source")

    def _index_text(self, text: str) -> str:
        return text if self.cipher is None else self.cipher.keyword_tags(text)

    def _open_source(self, value: str | bytes) -> str:
        return value if self.cipher is None else self.cipher.open_fixed(value, "source")

    def _row_to_chunk(self, row: tuple) -> Chunk:
        return Chunk(
            id=row[0], raw_id=row[1], source=self._open_source(row[2]), text=self._open(row[3], "chunk.text"),
            speaker=self._open(row[4], "chunk.speaker"), time=self._open(row[5], "chunk.time"), tokens=row[6],
            metadata=json.loads(self._open(row[7], "chunk.metadata")), added_at=row[8], dropped=row[9],
            repeat_of=row[10], uses=row[11],
        )

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
                raw_id = self._conn.execute(
                    "INSERT INTO raw_items (source, kind, time, content, original, metadata, sha256, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (source, item.kind, self._seal(item.time, "raw.time"), self._seal(item.content, "raw.content"),
                     self._seal_bytes(item.original, "raw.original"),
                     self._seal(json.dumps(item.metadata), "raw.metadata"), digest, now),
                ).lastrowid
                chunk_ids = []
                for position, chunk in enumerate(chunks):
                    repeat_of = chunk.repeat_of
                    if isinstance(repeat_of, PreparedChunk):
                        repeat_of = stored.get(id(repeat_of))
                    chunk_id = self._conn.execute(
                        "INSERT INTO chunks (raw_id, position, text, speaker, time, tokens, metadata, added_at,"
                        " dropped, repeat_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (raw_id, position, self._seal(chunk.text, "chunk.text"),
                         self._seal(chunk.speaker, "chunk.speaker"), self._seal(chunk.time, "chunk.time"),
                         chunk.tokens, self._seal(json.dumps(chunk.metadata or {}), "chunk.metadata"), now,
                         chunk.dropped, repeat_of),
                    ).lastrowid
                    chunk_ids.append(chunk_id)
                    stored[id(chunk)] = chunk_id
                    if chunk.dropped:
                        continue
                    self._conn.execute(
                        "INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
                        (chunk_id, self._seal_bytes(np.asarray(chunk.vector, dtype=np.float32).tobytes(), "vector")),
                    )
                    self._conn.execute("INSERT INTO keywords (rowid, text) VALUES (?, ?)",
                                       (chunk_id, self._index_text(chunk.text)))
                    self._add_mentions(chunk_id, chunk.entities or [])
                results.append(AddResult(raw_id, chunk_ids, duplicate=False))
        return results

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
                [(old, self._seal(sentence, "superseded.sentence"), self._seal(now, "superseded.now"), new, since)
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
            out.setdefault(chunk_id, []).append(Replacement(self._open(sentence, "superseded.sentence"),
                                                            self._open(now, "superseded.now"), by, since))
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
                    raise NotFoundError(f"no memory {chunk_id} in {self.path.stem!r}")
                repeats = self.get([row[0] for row in self._conn.execute(
                    "SELECT id FROM chunks WHERE repeat_of = ? ORDER BY id", (chunk_id,))])
                for gone in [chunk, *repeats]:
                    self._unindex("id = ?", gone.id)
                    self._conn.execute("DELETE FROM chunks WHERE id = ?", (gone.id,))
                    kept = self._chunks_of(gone.raw_id)
                    if not kept:
                        self._conn.execute("DELETE FROM raw_items WHERE id = ?", (gone.raw_id,))
                    elif redact is not None:
                        content = self._open(self._conn.execute(
                            "SELECT content FROM raw_items WHERE id = ?", (gone.raw_id,)).fetchone()[0], "raw.content")
                        self._conn.execute("UPDATE raw_items SET content = ?, original = NULL WHERE id = ?",
                                           (self._seal(redact(content, gone, kept), "raw.content"), gone.raw_id))
                self._count_deletion()
            self._scrub()
        return [chunk, *repeats]

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
                "SELECT c.id, c.text FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                " WHERE c.repeat_of = ? AND r.source != ? ORDER BY c.id LIMIT 1", (memory_id, leaving_source)).fetchone()
            if row is None:
                continue
            heir, text = row
            self._conn.execute("UPDATE chunks SET dropped = NULL, repeat_of = NULL WHERE id = ?", (heir,))
            self._conn.execute("UPDATE chunks SET repeat_of = ? WHERE repeat_of = ?", (heir, memory_id))
            for table, column in (("vectors", "chunk_id"), ("mentions", "chunk_id"),
                                  ("superseded", "chunk_id"), ("superseded", "by_chunk")):
                self._conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (heir, memory_id))
            self._conn.execute("INSERT INTO keywords (rowid, text) VALUES (?, ?)",
                               (heir, self._index_text(self._open(text, "chunk.text"))))

    def _unindex(self, where: str, value: object) -> list[int]:
        """Take the chunks matching `where` out of the contentless keyword index (it needs their text)."""
        rows = self._conn.execute(f"SELECT id, text FROM chunks WHERE dropped IS NULL AND ({where})",
                                  (value,)).fetchall()
        self._conn.executemany("INSERT INTO keywords (keywords, rowid, text) VALUES ('delete', ?, ?)",
                               [(i, self._index_text(self._open(text, "chunk.text"))) for i, text in rows])
        return [i for i, _ in rows]

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
        by_id = {row[0]: self._row_to_chunk(row) for row in rows}
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
            sources.setdefault(memory_id, []).append(self._open_source(source))
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
        return self._with_repeat_sources([self._row_to_chunk(row) for row in rows])

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
        return RawItem(source=self._open_source(row[0]), kind=row[1], content=self._open(row[2], "raw.content"), segments=[],
                       time=self._open(row[3], "raw.time"), metadata=json.loads(self._open(row[4], "raw.metadata")),
                       original=self._open_bytes(row[5], "raw.original"))

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
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return ids, np.zeros((0, 0), dtype=np.float32)
        blobs = (self._open_bytes(r[1], "vector") for r in rows)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), -1)
        return ids, matrix


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
