"""What every backend of a space's store does, written once: a space's durable state (raw items,
memories, vectors, the entity graph, supersession records, tags) in SQL that SQLite and Postgres
both run. The rest of imprint sees only this class.

A backend (sqlite.py: one file per space; postgres.py: one database for all spaces) supplies the
connection (`_conn`, with `?` placeholders), the write transaction, how row ids are handed out, the
keyword index and how deletions are made physical.
"""

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np

from ..errors import EncryptionError
from ..records import Chunk, EmbedderRecord, RawItem
from ..text.entities import extract_entities
from ..text.words import STOPWORDS, identifier_parts
from .checking import Checking
from .deletion import Deletion
from .edges import Edges
from .embedding import Embedding
from .filtering import Filtering
from .sources import Sources
from .sql import CHUNK_COLUMNS, marks, now


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


def content_hash(item: RawItem) -> str:
    digest = hashlib.sha256(item.original if item.original is not None else item.content.encode())
    return digest.hexdigest()


def rows_of(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The rows of the ascending, non-empty `ids` that hold the `wanted` ids (those present, in
    `wanted`'s order): a binary search per wanted id, not a pass over all."""
    rows = np.searchsorted(ids, wanted).clip(0, len(ids) - 1)
    return rows[ids[rows] == wanted]


def query_words(text: str) -> list[str]:
    """The words of free text a keyword search looks for: not stopwords, with the parts of
    identifiers (parseConfigFile -> parse, config, file), lower case, each once."""
    found = re.findall(r"\w+", text)
    words = [
        w
        for w in [*map(str.lower, found), *(p for w in found for p in identifier_parts(w))]
        if w not in STOPWORDS and len(w) > 1
    ]
    return list(dict.fromkeys(words))


class SpaceStore(Sources, Edges, Deletion, Checking, Filtering, Embedding):
    """All durable state of one space; a backend subclass supplies the connection.

    `master_key`: a new space is created encrypted; an existing one must match how it was created.
    """

    def _open_space(self, master_key: bytes | None) -> None:
        """Bring the schema up to date and open the cipher; older spaces get what newer ones have."""
        self._format = 0  # the encryption format; 0: not encrypted
        self.damaged: dict[tuple[str, int], str] = {}  # rows found unreadable since opening, and why
        before = self._migrate(master_key)
        self.cipher = self._open_cipher(master_key)
        if 0 < before < self.SUBJECT_VERSION:
            self._backfill_mentions()
        if 0 < before < self.TAGS_VERSION:
            self._backfill_tags()
        if 0 < before < self.IDENTIFIER_VERSION:
            with self._lock, self._write():
                self._rebuild_keywords()

    # --- shared ---------------------------------------------------------------------------

    def _backfill_mentions(self) -> None:
        """A file from before the graph or its subjects: find the names its memories mention, once."""
        with self._lock, self._write():
            self._conn.execute("DELETE FROM mentions")
            rows = self._conn.execute("SELECT id, raw_id, text FROM chunks WHERE dropped IS NULL").fetchall()
            for chunk_id, raw_id, text in rows:
                self._add_mentions(chunk_id, extract_entities(self._open_text(text, chunk_id, raw_id)))
            self._drop_unmentioned_entities()  # names an older extractor found and this one does not

    def _row_to_chunk(self, row: tuple) -> Chunk:
        chunk_id, raw_id = row[0], row[1]
        return Chunk(
            id=chunk_id,
            raw_id=raw_id,
            source=self._open_source(row[2]),
            text=self._open_text(row[3], chunk_id, raw_id, shown=row[9] is None),
            speaker=self._open(row[4], self._field("chunk.speaker", chunk_id, raw_id)),
            time=self._open(row[5], self._field("chunk.time", chunk_id, raw_id)),
            tokens=row[6],
            metadata=json.loads(self._open(row[7], self._field("chunk.metadata", chunk_id, raw_id))),
            added_at=row[8],
            dropped=self._open_plain_in_v1(row[9], self._field("chunk.dropped", chunk_id)),
            repeat_of=row[10],
            uses=row[11],
            replaced_by=row[12],
        )

    # --- writing -------------------------------------------------------------------------

    def add(
        self, items: list[tuple[RawItem, list[PreparedChunk]]], embedder: EmbedderRecord | None = None
    ) -> list[AddResult]:
        """Store raw items with their chunks and vectors in one transaction.

        An item already stored from the same source with the same content is skipped
        (re-adding a folder is idempotent) and reported as a duplicate. `embedder` made the vectors:
        the first one is recorded, another one refused.
        """
        results = []
        stored: dict[int, int] = {}  # id() of a prepared chunk -> its row id, for repeats within the batch
        with self._lock, self._write():
            next_raw_id = self._next_ids("raw_items", len(items))  # known before sealing: rows are bound in
            next_chunk_id = self._next_ids("chunks", sum(len(chunks) for _, chunks in items))
            if embedder is not None and any(not c.dropped for _, chunks in items for c in chunks):
                self._record_embedder(embedder)
            for item, chunks in items:
                digest = self.content_key(content_hash(item))
                source = self._source_key(item.source)
                # a file's version is new unless it is the latest one (an edit undone is a new version)
                versioned = item.replaces or item.new_version
                existing = self._conn.execute(
                    "SELECT id FROM (SELECT id, sha256 FROM raw_items WHERE source = ? ORDER BY id DESC LIMIT 1) latest"
                    " WHERE sha256 = ?"
                    if versioned
                    else "SELECT id FROM raw_items WHERE source = ? AND sha256 = ?",
                    (source, digest),
                ).fetchone()
                if existing:
                    ids = [
                        r[0]
                        for r in self._conn.execute(
                            "SELECT id FROM chunks WHERE raw_id = ? ORDER BY position", existing
                        )
                    ]
                    results.append(AddResult(existing[0], ids, duplicate=True))
                    continue
                if versioned:  # an older version with this content (an edit undone) keeps its history apart
                    self._conn.execute(
                        "UPDATE raw_items SET sha256 = sha256 || ':' || id WHERE source = ? AND sha256 = ?",
                        (source, digest),
                    )
                added = now()
                raw_id, next_raw_id = next_raw_id, next_raw_id + 1
                self._conn.execute(
                    "INSERT INTO raw_items (id, source, kind, time, content, original, metadata, sha256, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        raw_id,
                        source,
                        item.kind,
                        self._seal(item.time, self._field("raw.time", raw_id)),
                        self._seal(item.content, self._field("raw.content", raw_id)),
                        self._seal_bytes(item.original, self._field("raw.original", raw_id)),
                        self._seal(json.dumps(item.metadata), self._field("raw.metadata", raw_id)),
                        digest,
                        added,
                    ),
                )
                chunk_ids = []
                for position, chunk in enumerate(chunks):
                    repeat_of = chunk.repeat_of
                    if isinstance(repeat_of, PreparedChunk):
                        repeat_of = stored.get(id(repeat_of))
                    chunk_id, next_chunk_id = next_chunk_id, next_chunk_id + 1
                    self._conn.execute(
                        "INSERT INTO chunks (id, raw_id, position, text, speaker, time, tokens, metadata, added_at,"
                        " dropped, repeat_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            chunk_id,
                            raw_id,
                            position,
                            self._seal_text(chunk.text, chunk_id, raw_id, not chunk.dropped),
                            self._seal(chunk.speaker, self._field("chunk.speaker", chunk_id, raw_id)),
                            self._seal(chunk.time, self._field("chunk.time", chunk_id, raw_id)),
                            chunk.tokens,
                            self._seal(
                                json.dumps(chunk.metadata or {}), self._field("chunk.metadata", chunk_id, raw_id)
                            ),
                            added,
                            self._seal_plain_in_v1(chunk.dropped, self._field("chunk.dropped", chunk_id)),
                            repeat_of,
                        ),
                    )
                    chunk_ids.append(chunk_id)
                    stored[id(chunk)] = chunk_id
                    self._add_tags(chunk_id, chunk.metadata or {})
                    if chunk.dropped:
                        continue
                    self._insert_vector(chunk_id, np.asarray(chunk.vector, dtype=np.float32))
                    self._index_keywords([(chunk_id, chunk.text)])
                    self._add_mentions(chunk_id, chunk.entities or [])
                results.append(AddResult(raw_id, chunk_ids, duplicate=False))
        return results

    def _insert_vector(self, chunk_id: int, vector: np.ndarray) -> None:
        self._conn.execute(
            "INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
            (chunk_id, self._seal_bytes(vector.tobytes(), self._field("vector", chunk_id))),
        )

    def content_key(self, digest: str) -> str:
        """How a content hash is stored: as it is, or keyed when encrypted (a plain hash would
        confirm a guessed content)."""
        return digest if self.cipher is None else self.cipher.tag(digest)

    # --- reading -------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM chunks WHERE dropped IS NULL").fetchone()[0]

    def total_tokens(self, allowed: np.ndarray | None = None) -> int:
        """Embedder tokens over all memories (of `allowed`): what reading them all would cost, roughly."""
        only, ids = self._among("id", allowed)
        with self._lock:
            return self._conn.execute(
                f"SELECT coalesce(sum(tokens), 0) FROM chunks WHERE dropped IS NULL{only}", ids
            ).fetchone()[0]

    def get(self, ids: list[int]) -> list[Chunk]:
        """The memories with these ids, in the order asked (missing ids are left out)."""
        if not ids:
            return []
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE c.id IN ({marks(ids)})",
                ids,
            ).fetchall()
        by_id = {chunk.id: chunk for chunk in self._readable(rows)}
        return self._with_repeat_sources([by_id[i] for i in ids if i in by_id])

    def neighbours(self, ids: list[int]) -> dict[int, list[int]]:
        """For each of `ids` that is a conversation's turn, the indexed turns just before and after it.
        (Not a document's or a file's chunks: on code, crediting the functions next to a match put the
        right symbol first less often, benchmarks/code_recall.py.)"""
        if not ids:
            return {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT a.id, b.id FROM chunks a JOIN chunks b ON b.raw_id = a.raw_id"
                " AND b.position IN (a.position - 1, a.position + 1)"
                f" WHERE a.id IN ({marks(ids)}) AND a.speaker IS NOT NULL AND b.speaker IS NOT NULL"
                " AND b.dropped IS NULL ORDER BY b.id",
                ids,
            ).fetchall()
        found: dict[int, list[int]] = {}
        for memory_id, neighbour in rows:
            found.setdefault(memory_id, []).append(neighbour)
        return found

    def _with_repeat_sources(self, chunks: list[Chunk]) -> list[Chunk]:
        """Fill `also_from`: the sources that repeat each memory (a merged memory has several)."""
        ids = [c.id for c in chunks]
        if not ids:
            return chunks
        with self._lock:
            rows = self._conn.execute(
                f"SELECT c.repeat_of, r.source FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE c.repeat_of IN ({marks(ids)}) ORDER BY c.id",
                ids,
            ).fetchall()
        sources: dict[int, list[str]] = {}
        for memory_id, source in rows:
            try:
                sources.setdefault(memory_id, []).append(self._open_source(source))
            except EncryptionError:
                continue  # a damaged repeat's source: the memory still shows
        for chunk in chunks:
            chunk.also_from = [s for s in dict.fromkeys(sources.get(chunk.id, [])) if s != chunk.source]
        return chunks

    def list_memories(
        self, limit: int = 50, offset: int = 0, dropped: bool = False, allowed: np.ndarray | None = None
    ) -> list[Chunk]:
        """The memories in id order; with `dropped`, instead the chunks kept raw but not indexed;
        with `allowed` (ids from `matching`), only those."""
        only, ids = self._among("c.id", allowed)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE c.dropped IS {'NOT ' if dropped else ''}NULL{only} ORDER BY c.id LIMIT ? OFFSET ?",
                [*ids, limit, offset],
            ).fetchall()
        return self._with_repeat_sources(self._readable(rows))

    def history(self, chunk_id: int) -> list[Chunk]:
        """Every version of a memory, oldest first: what it replaced, and what replaced it."""
        with self._lock:
            rows = self._conn.execute(
                "WITH RECURSIVE older(id) AS (SELECT CAST(? AS BIGINT)"
                " UNION SELECT c.id FROM chunks c JOIN older o ON c.replaced_by = o.id),"
                " newer(id) AS (SELECT CAST(? AS BIGINT)"
                " UNION SELECT c.replaced_by FROM chunks c JOIN newer n ON c.id = n.id"
                "               WHERE c.replaced_by IS NOT NULL)"
                " SELECT id FROM older UNION SELECT id FROM newer ORDER BY id",
                (chunk_id, chunk_id),
            ).fetchall()
        return self.get([row[0] for row in rows])

    def live_memories_of(self, source: str, except_raw: int) -> list[int]:
        """The memories (indexed, not replaced) of `source`'s items other than `except_raw`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id FROM chunks c JOIN raw_items r ON r.id = c.raw_id WHERE r.source = ? AND r.id != ?"
                " AND c.dropped IS NULL ORDER BY c.id",
                (self._source_key(source), except_raw),
            ).fetchall()
        return [row[0] for row in rows]

    def record_use(self, ids: list[int]) -> None:
        """Count that these memories were put in front of the model for an answer."""
        if ids:
            with self._lock, self._write():
                self._conn.execute(f"UPDATE chunks SET uses = uses + 1 WHERE id IN ({marks(ids)})", ids)

    def stable_memories(self, unchanged_since: str, min_uses: int) -> list[int]:
        """Memories added before `unchanged_since` that no newer memory changed after it, used in at
        least `min_uses` answers: the consolidation policy's candidates, in id order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id FROM chunks c WHERE c.dropped IS NULL AND c.added_at <= ? AND c.uses >= ?"
                " AND NOT EXISTS (SELECT 1 FROM superseded s JOIN chunks n ON n.id = s.by_chunk"
                "                 WHERE s.chunk_id = c.id AND n.added_at > ?)"
                " ORDER BY c.id",
                (unchanged_since, min_uses, unchanged_since),
            ).fetchall()
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
