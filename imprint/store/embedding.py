"""Which embedder made a space's vectors, and moving them to another one. Part of SpaceStore.

A question embedded by one model and compared with memories embedded by another ranks noise, so
the space records its embedder (meta 'embedder') with its first vector and refuses the others. A
reindex stages the new vectors beside the live ones, committed batch by batch (a killed reindex
resumes where it stopped), and swaps them in with the record in one transaction. Triggers drop a
staged vector whose memory was forgotten or moved meanwhile, so the swap never brings one back.
"""

import json

import numpy as np

from ..errors import InputError
from ..records import EmbedderRecord
from .fields import Fields
from .sql import marks


class Embedding(Fields):
    def embedder_record(self) -> EmbedderRecord | None:
        """The embedder of this space's vectors; None before its first vector."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
        return EmbedderRecord(**json.loads(row[0])) if row else None

    def check_embedder(self, embedder: EmbedderRecord) -> EmbedderRecord | None:
        """Refuse an embedder other than the one the space's vectors came from; returns the one held
        (None before the first vector)."""
        held = self.embedder_record()
        if held is not None and not held.matches(embedder):
            raise InputError(
                f"space {self.name!r} was embedded with {held}; the configured embedder is "
                f"{embedder}. Set IMPRINT_EMBEDDER={held.name}, or move the space to the new one: "
                f"imprint reindex --space {self.name}"
            )
        return held

    def _record_embedder(self, embedder: EmbedderRecord) -> None:
        """Inside a write: check the embedder of vectors about to be added, and record the first."""
        if self.check_embedder(embedder) is None:
            self._set_meta("embedder", json.dumps(embedder.__dict__))

    def _set_meta(self, key: str, value: str) -> None:
        """Inside a write: the space's setting `key` becomes `value`."""
        self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        self._conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))

    def unstaged(self, target: EmbedderRecord, limit: int) -> list[tuple[int, str, str, str | None]]:
        """(memory id, kind of its raw item, text, text of the memory before it from the same item or
        None) of up to `limit` memories whose vector for `target` is not staged yet, in id order. A
        reindex towards another embedder starts over."""
        with self._lock, self._write():
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'reindex_to'").fetchone()
            if row is None or EmbedderRecord(**json.loads(row[0])) != target:
                self._conn.execute("DELETE FROM staged_vectors")
                self._set_meta("reindex_to", json.dumps(target.__dict__))
            rows = self._conn.execute(
                "SELECT c.id, r.kind, (SELECT max(p.id) FROM chunks p WHERE p.raw_id = c.raw_id AND p.id < c.id)"
                " FROM vectors v JOIN chunks c ON c.id = v.chunk_id JOIN raw_items r ON r.id = c.raw_id"
                " WHERE v.chunk_id NOT IN (SELECT chunk_id FROM staged_vectors) ORDER BY c.id LIMIT ?",
                (limit,),
            ).fetchall()
        texts = {
            chunk.id: chunk.text for chunk in self.get([i for row in rows for i in (row[0], row[2]) if i is not None])
        }
        return [
            (memory_id, kind, texts[memory_id], texts.get(previous))
            for memory_id, kind, previous in rows
            if memory_id in texts
        ]

    def reindex_counts(self) -> tuple[int, int]:
        """(vectors staged, vectors in the space)."""
        with self._lock:
            return (
                self._conn.execute("SELECT count(*) FROM staged_vectors").fetchone()[0],
                self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0],
            )

    def stage_vectors(self, vectors: dict[int, np.ndarray]) -> None:
        with self._lock, self._write():
            live = {
                row[0]
                for row in self._conn.execute(
                    f"SELECT chunk_id FROM vectors WHERE chunk_id IN ({marks(list(vectors))})", list(vectors)
                )
            }
            self._conn.execute(f"DELETE FROM staged_vectors WHERE chunk_id IN ({marks(list(vectors))})", list(vectors))
            self._conn.executemany(
                "INSERT INTO staged_vectors (chunk_id, vector) VALUES (?, ?)",
                [
                    (
                        chunk_id,
                        self._seal_bytes(
                            np.asarray(vector, dtype=np.float32).tobytes(), self._field("vector", chunk_id)
                        ),
                    )
                    for chunk_id, vector in vectors.items()
                    if chunk_id in live
                ],
            )

    def swap_staged(self, target: EmbedderRecord) -> bool:
        """Put the staged vectors in place and record `target`, if every memory has one (else False:
        memories added meanwhile need theirs first)."""
        with self._lock, self._write():
            missing = self._conn.execute(
                "SELECT count(*) FROM vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM staged_vectors)"
            ).fetchone()[0]
            if missing:
                return False
            self._conn.execute(
                "UPDATE vectors SET vector = (SELECT s.vector FROM staged_vectors s"
                " WHERE s.chunk_id = vectors.chunk_id)"
            )
            self._conn.execute("DELETE FROM staged_vectors")
            self._conn.execute("DELETE FROM meta WHERE key = 'reindex_to'")
            self._set_meta("embedder", json.dumps(target.__dict__))
            self._count_deletion()  # open vector indexes reload
        return True
