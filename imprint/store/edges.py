"""The entity graph's edges (which memories mention which names) and supersession records
(which sentences newer memories replaced). Part of SpaceStore (a mixin over its connection)."""

import numpy as np

from ..errors import EncryptionError
from ..records import Replacement
from .fields import Fields
from .sql import marks


class Edges(Fields):
    def _add_mentions(self, chunk_id: int, names: list[str]) -> None:
        """`names` in order of first mention: the first is the memory's subject."""
        keys = [self._entity_key(name) for name in names]
        self._conn.executemany(
            "INSERT INTO entities (name) VALUES (?) ON CONFLICT DO NOTHING", [(k,) for k in sorted(keys)]
        )
        self._conn.executemany(
            "INSERT INTO mentions (chunk_id, entity_id, subject) "
            "SELECT ?, id, ? FROM entities WHERE name = ? ON CONFLICT DO NOTHING",
            [(chunk_id, position == 0, k) for position, k in enumerate(keys)],
        )

    def entities_named(self, names: set[str]) -> dict[int, int]:
        """Entity id -> how many memories mention it, for those of `names` the space knows."""
        keys = [self._entity_key(name) for name in names]
        if not keys:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT e.id, count(m.chunk_id) FROM entities e JOIN mentions m ON m.entity_id = e.id"
                f" WHERE e.name IN ({marks(keys)}) GROUP BY e.id",
                keys,
            ).fetchall()
        return dict(rows)

    def entity_ids(self, names: set[str]) -> dict[str, int]:
        """Name -> entity id, for those of `names` the space knows."""
        keys = {self._entity_key(name): name for name in names}
        if not keys:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT name, id FROM entities WHERE name IN ({marks(list(keys))})", list(keys)
            ).fetchall()
        return {keys[key]: entity_id for key, entity_id in rows}

    def subjects(self, names: set[str]) -> tuple[set[str], np.ndarray]:
        """Those of `names` that are some memory's subject (a turn's speaker, a passage's title), and
        the ids of the memories they are the subject of, ascending. Source code has none: a method's
        first name is its class, and preferring every method of a class the question names put the
        right one first less often (benchmarks/code_recall.py)."""
        keys = {self._entity_key(name): name for name in names}
        if not keys:
            return set(), np.zeros(0, dtype=np.int64)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT e.name, m.chunk_id FROM entities e JOIN mentions m ON m.entity_id = e.id"
                f" JOIN chunks c ON c.id = m.chunk_id JOIN raw_items r ON r.id = c.raw_id"
                f" WHERE e.name IN ({marks(list(keys))}) AND m.subject AND r.kind <> 'code'",
                list(keys),
            ).fetchall()
        found = {key for key, _ in rows}
        return (
            {name for key, name in keys.items() if key in found},
            np.unique(np.array([chunk_id for _, chunk_id in rows], dtype=np.int64)),
        )

    def memories_mentioning(self, name: str, before: int, limit: int = 200) -> list[int]:
        """Ids below `before` of the (at most `limit` latest) memories that mention `name`."""
        with self._lock:
            return [
                row[0]
                for row in self._conn.execute(
                    "SELECT m.chunk_id FROM mentions m JOIN entities e ON e.id = m.entity_id"
                    " WHERE e.name = ? AND m.chunk_id < ? ORDER BY m.chunk_id DESC LIMIT ?",
                    (self._entity_key(name), before, limit),
                )
            ]

    def mention_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM mentions").fetchone()[0]

    def mentions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (memory id, entity id, is its subject) edge of the graph, as three columns."""
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id, entity_id, subject FROM mentions").fetchall()
        edges = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        return edges[:, 0], edges[:, 1], edges[:, 2].astype(bool)

    def supersede(self, replaced: list[tuple[int, str, str, int, str | None]]) -> None:
        """Record (older memory, its replaced sentence, what it says now, newer memory, since when)."""
        if not replaced:  # most ingest batches replace nothing: take no write lock for them
            return
        with self._lock, self._write():
            self._conn.executemany(
                "INSERT INTO superseded (chunk_id, sentence, now, by_chunk, since) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        old,
                        self._seal(sentence, self._field("superseded.sentence", old, new)),
                        self._seal(now, self._field("superseded.now", old, new)),
                        new,
                        self._seal_plain_in_v1(since, self._field("superseded.since", old, new)),
                    )
                    for old, sentence, now, new, since in replaced
                ],
            )

    def replaced_sentences(self, ids: list[int]) -> dict[int, list[Replacement]]:
        """For these memories, the sentences newer memories replaced, oldest change first."""
        if not ids:
            return {}
        out: dict[int, list[Replacement]] = {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT chunk_id, sentence, now, by_chunk, since FROM superseded WHERE chunk_id IN "
                f"({marks(ids)}) ORDER BY rowid",
                ids,
            ).fetchall()
        for chunk_id, sentence, now, by, since in rows:
            try:
                out.setdefault(chunk_id, []).append(
                    Replacement(
                        self._open(sentence, self._field("superseded.sentence", chunk_id, by)),
                        self._open(now, self._field("superseded.now", chunk_id, by)),
                        by,
                        self._open_plain_in_v1(since, self._field("superseded.since", chunk_id, by)),
                    )
                )
            except (EncryptionError, UnicodeDecodeError) as error:
                self._damage("superseded", chunk_id, error)
        return out

    def superseding(self, ids: list[int]) -> set[int]:
        """Which of these memories replaced a sentence of an older one."""
        if not ids:
            return set()
        with self._lock:
            return {
                row[0]
                for row in self._conn.execute(
                    f"SELECT DISTINCT by_chunk FROM superseded WHERE by_chunk IN ({marks(ids)})", ids
                )
            }
