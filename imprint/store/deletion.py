"""Physical deletion: a memory with its repeats, a source, damaged rows. Part of SpaceStore.

Forgetting removes bytes, not just rows: each backend's `_scrub` says how (SQLite zeroes freed
pages and truncates its WAL; Postgres vacuums).
"""

import json
from collections.abc import Callable

from ..errors import EncryptionError, NotFoundError
from ..records import Chunk
from .fields import Fields
from .sql import ROW_KEYS, marks


class Deletion(Fields):
    def delete_memory(
        self, chunk_id: int, redact: Callable[[str, Chunk, list[Chunk]], str] | None = None
    ) -> list[Chunk]:
        """Delete one memory (chunk, vector, keyword entry), its repeats and its other versions (older
        and newer, see `history`); returns them, the memory first.
        A raw item goes with its last chunk. While other memories keep it, `redact(content, forgotten,
        kept)` rewrites its content and the original bytes are dropped, in the same transaction."""
        with self._lock:
            with self._write():
                [chunk] = self.get([chunk_id]) or [None]
                if chunk is None:
                    removed = [self._delete_unreadable_memory(chunk_id)]
                    raw_id = removed[0].raw_id
                    if not self._conn.execute("SELECT 1 FROM chunks WHERE raw_id = ?", (raw_id,)).fetchone():
                        self._conn.execute("DELETE FROM raw_items WHERE id = ?", (raw_id,))  # its last memory
                    self._forget_quarantined({chunk_id}, {raw_id} - self._raw_ids_left({raw_id}))
                else:
                    removed = [
                        chunk,
                        *self.get(
                            [
                                row[0]
                                for row in self._conn.execute(
                                    "SELECT id FROM chunks WHERE repeat_of = ? ORDER BY id", (chunk_id,)
                                )
                            ]
                        ),
                        *(version for version in self.history(chunk_id) if version.id != chunk_id),
                    ]
                    for gone in removed:
                        self._unindex("id = ?", gone.id)
                        self._conn.execute("DELETE FROM chunks WHERE id = ?", (gone.id,))
                        kept = self._chunks_of(gone.raw_id)
                        if not kept:
                            self._conn.execute("DELETE FROM raw_items WHERE id = ?", (gone.raw_id,))
                        elif redact is not None:
                            self._redact_raw(gone, kept, redact)
                    raw_ids = {gone.raw_id for gone in removed}
                    self._forget_quarantined({gone.id for gone in removed}, raw_ids - self._raw_ids_left(raw_ids))
                self._count_deletion()
            self._scrub()
        return removed

    def _raw_ids_left(self, raw_ids: set[int]) -> set[int]:
        return (
            {
                row[0]
                for row in self._conn.execute(f"SELECT id FROM raw_items WHERE id IN ({marks(raw_ids)})", list(raw_ids))
            }
            if raw_ids
            else set()
        )

    def _forget_quarantined(self, chunk_ids: set[int], raw_ids: set[int], source_key: str | bytes | None = None) -> int:
        """Delete the quarantined rows (check --repair) of these memories, raw items or source:
        forgetting reaches them too. Returns how many went."""
        source = source_key.hex() if isinstance(source_key, bytes) else source_key
        doomed = []
        for quarantined, table, row_id, text in self._conn.execute(
            "SELECT id, table_name, row_id, row FROM quarantine"
        ).fetchall():
            try:
                fields = json.loads(text)
            except ValueError:
                fields = None
            fields = fields if isinstance(fields, dict) else {}
            if (
                (table in ("chunks", "vectors") and row_id in chunk_ids)
                or (table == "raw_items" and row_id in raw_ids)
                or fields.get("chunk_id") in chunk_ids
                or fields.get("by_chunk") in chunk_ids
                or fields.get("raw_id") in raw_ids
                or (source is not None and fields.get("source") == source)
            ):
                doomed.append(quarantined)
        if doomed:
            self._conn.execute(f"DELETE FROM quarantine WHERE id IN ({marks(doomed)})", doomed)
        return len(doomed)

    def _quarantined_memory(self, chunk_id: int) -> Chunk | None:
        """A memory whose row `check --repair` quarantined, as forget reports it."""
        for (text,) in self._conn.execute(
            "SELECT row FROM quarantine WHERE table_name = 'chunks' AND row_id = ?", (chunk_id,)
        ).fetchall():
            fields = json.loads(text) if text.startswith("{") else {}
            return Chunk(
                chunk_id,
                fields.get("raw_id", 0),
                source="",
                text="",
                speaker=None,
                time=None,
                tokens=0,
                metadata={},
                added_at="",
                dropped="quarantined (damaged)",
            )
        return None

    def _delete_unreadable_memory(self, chunk_id: int) -> Chunk:
        """Forget a memory whose row no longer reads (damaged), or that was quarantined: it goes all
        the same, unread."""
        row = self._conn.execute("SELECT raw_id FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            quarantined = self._quarantined_memory(chunk_id)
            if quarantined is None:
                raise NotFoundError(f"no memory {chunk_id} in {self.name!r}")
            return quarantined
        self._delete_damaged(["chunks"], [chunk_id])
        return Chunk(
            chunk_id,
            row[0],
            source="",
            text="",
            speaker=None,
            time=None,
            tokens=0,
            metadata={},
            added_at="",
            dropped="unreadable (damaged)",
        )

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
        self._conn.execute(
            "UPDATE raw_items SET content = ?, original = NULL WHERE id = ?", (self._seal(content, field), gone.raw_id)
        )

    def _chunks_of(self, raw_id: int) -> list[Chunk]:
        ids = [
            row[0] for row in self._conn.execute("SELECT id FROM chunks WHERE raw_id = ? ORDER BY position", (raw_id,))
        ]
        return self.get(ids)

    def delete_source(self, source: str) -> list[Chunk]:
        """Delete every raw item from `source` and all that was derived from it; returns its memories.
        A memory another source repeats stays, merged: that source's repeat takes its place."""
        try:
            source = self._resolve_source(source)
        except NotFoundError:  # all its rows may have been quarantined
            with self._lock, self._write():
                if not self._forget_quarantined(set(), set(), self._source_key(source)):
                    raise
            self._scrub()
            return []
        key = self._source_key(source)
        where = "raw_id IN (SELECT id FROM raw_items WHERE source = ?)"
        with self._lock:
            with self._write():
                raw_ids = {row[0] for row in self._conn.execute("SELECT id FROM raw_items WHERE source = ?", (key,))}
                live = self._unindex(where, key)
                self._promote_repeats(live, key)
                removed = self.get(
                    [
                        row[0]
                        for row in self._conn.execute(  # older versions go too
                            f"SELECT id FROM chunks WHERE {where} ORDER BY id", (key,)
                        )
                    ]
                )
                if not self._conn.execute("DELETE FROM raw_items WHERE source = ?", (key,)).rowcount:
                    raise NotFoundError(f"no source {source!r} in {self.name!r}")
                self._forget_quarantined({m.id for m in removed}, raw_ids, key)
                self._count_deletion()
            self._scrub()
        return removed

    def replace(self, newer: dict[int, int]) -> None:
        """Retire each memory for its newer version (`newer`: old id -> new id): out of search (vectors,
        keywords, graph), kept with a pointer to the new one, so `history` shows both."""
        if not newer:
            return
        with self._lock, self._write():
            for old, new in newer.items():
                if not self._unindex("id = ?", old):
                    continue  # already retired, or not a memory
                self._conn.execute("DELETE FROM vectors WHERE chunk_id = ?", (old,))
                self._conn.execute("DELETE FROM mentions WHERE chunk_id = ?", (old,))
                raw_id, sealed = self._conn.execute("SELECT raw_id, text FROM chunks WHERE id = ?", (old,)).fetchone()
                text = self._seal_text(self._open_text(sealed, old, raw_id), old, raw_id, shown=False)
                self._conn.execute(
                    "UPDATE chunks SET text = ?, dropped = ?, replaced_by = ? WHERE id = ?",
                    (
                        text,
                        self._seal_plain_in_v1(f"replaced by memory {new}", self._field("chunk.dropped", old)),
                        new,
                        old,
                    ),
                )
            self._count_deletion()

    def _promote_repeats(self, ids: list[int], leaving_source: str | bytes) -> None:
        """For each memory about to go, its first repeat from another source becomes the memory:
        it takes over the vector (same content words, cosine >= the repeat threshold), names,
        supersession records and the other repeats, and is indexed under its own words."""
        for memory_id in ids:
            row = self._conn.execute(
                "SELECT c.id, c.raw_id, c.text FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                " WHERE c.repeat_of = ? AND r.source != ? ORDER BY c.id LIMIT 1",
                (memory_id, leaving_source),
            ).fetchone()
            if row is None:
                continue
            heir, raw_id, sealed = row
            text = self._open_text(sealed, heir, raw_id, shown=False)
            self._conn.execute(
                "UPDATE chunks SET dropped = NULL, repeat_of = NULL, text = ? WHERE id = ?",
                (self._seal_text(text, heir, raw_id, shown=True), heir),
            )
            self._conn.execute("UPDATE chunks SET repeat_of = ? WHERE repeat_of = ?", (heir, memory_id))
            self._conn.execute("UPDATE mentions SET chunk_id = ? WHERE chunk_id = ?", (heir, memory_id))
            self._move_sealed_rows(memory_id, heir)
            self._index_keywords([(heir, text)])

    def _move_sealed_rows(self, old: int, new: int) -> None:
        """Hand a memory's vector and supersession records to the memory that takes its place; in
        format 2 each is sealed again for its new row."""
        vector = self._conn.execute("SELECT vector FROM vectors WHERE chunk_id = ?", (old,)).fetchone()
        if vector is not None:
            plain = self._open_bytes(vector[0], self._field("vector", old))
            self._conn.execute(
                "UPDATE vectors SET chunk_id = ?, vector = ? WHERE chunk_id = ?",
                (new, self._seal_bytes(plain, self._field("vector", new)), old),
            )
        rows = self._conn.execute(
            "SELECT rowid, chunk_id, by_chunk, sentence, now, since FROM superseded WHERE chunk_id = ? OR by_chunk = ?",
            (old, old),
        ).fetchall()
        for rowid, chunk_id, by_chunk, *sealed in rows:
            after = (new if chunk_id == old else chunk_id, new if by_chunk == old else by_chunk)
            fields = ("superseded.sentence", "superseded.now")
            sentence, now = (
                self._seal(self._open(value, self._field(f, chunk_id, by_chunk)), self._field(f, *after))
                for f, value in zip(fields, sealed)
            )
            since = self._seal_plain_in_v1(
                self._open_plain_in_v1(sealed[2], self._field("superseded.since", chunk_id, by_chunk)),
                self._field("superseded.since", *after),
            )
            self._conn.execute(
                "UPDATE superseded SET chunk_id = ?, by_chunk = ?, sentence = ?, now = ?, since = ? WHERE rowid = ?",
                (*after, sentence, now, since, rowid),
            )

    def _unindex(self, where: str, value: object) -> list[int]:
        """Take the memories matching `where` out of the keyword index (a contentless one needs their text)."""
        rows = self._conn.execute(
            f"SELECT id, raw_id, text FROM chunks WHERE dropped IS NULL AND ({where})", (value,)
        ).fetchall()
        readable, damaged = [], []
        for chunk_id, raw_id, sealed in rows:
            try:
                readable.append((chunk_id, self._open_text(sealed, chunk_id, raw_id)))
            except (EncryptionError, UnicodeDecodeError):
                damaged.append(chunk_id)
        self._unindex_keywords(readable, damaged)
        return [chunk_id for chunk_id, _, _ in rows]

    def _rebuild_keywords(self, exclude: set[int] = frozenset()) -> None:
        """The keyword index anew from every readable memory (after damaged rows left)."""
        self._clear_keywords()
        rows = self._conn.execute("SELECT id, raw_id, text FROM chunks WHERE dropped IS NULL").fetchall()
        readable = []
        for chunk_id, raw_id, sealed in rows:
            if chunk_id in exclude:
                continue
            try:
                readable.append((chunk_id, self._open_text(sealed, chunk_id, raw_id)))
            except (EncryptionError, UnicodeDecodeError):
                continue
        self._index_keywords(readable)

    def _delete_damaged(self, tables: list[str], ids: list[int]) -> None:
        """Delete rows that cannot be read (their vectors, names and records go with a chunk)."""
        chunk_ids = [i for t, i in zip(tables, ids) if t == "chunks"]
        raw_ids = {
            row[0]
            for row in self._conn.execute(f"SELECT raw_id FROM chunks WHERE id IN ({marks(chunk_ids)})", chunk_ids)
        }
        for table, row_id in zip(tables, ids):
            self._conn.execute(f"DELETE FROM {table} WHERE {ROW_KEYS[table]} = ?", (row_id,))
        for raw_id in raw_ids:  # a raw item goes with its last chunk, as in forgetting
            self._conn.execute(
                "DELETE FROM raw_items WHERE id = ? AND NOT EXISTS (SELECT 1 FROM chunks WHERE raw_id = ?)",
                (raw_id, raw_id),
            )
        if chunk_ids or "raw_items" in tables:
            self._rebuild_keywords()
        for table, row_id in zip(tables, ids):
            self.damaged.pop((table, row_id), None)

    def _count_deletion(self) -> None:
        """Every deletion ends here: names no memory mentions any more leave the graph too."""
        self._drop_unmentioned_entities()
        self._conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'deletions'")

    def _drop_unmentioned_entities(self) -> None:
        self._conn.execute(
            "DELETE FROM entities WHERE NOT EXISTS (SELECT 1 FROM mentions WHERE entity_id = entities.id)"
        )
