"""Filters inside the store: which memories a search, an answer or a list may draw on. Part of SpaceStore.

Metadata is searchable through `tags` rows (key, value), one per scalar value of a memory's
metadata, keyed tags when the space is encrypted (as the keyword index is). Source is compared by
its stored key; speaker and time are compared in SQL, or, when they are sealed, after opening each
candidate inside the store, still before any ranking sees it.
"""

import json
from typing import Any

import numpy as np

from ..errors import EncryptionError
from ..filters import Filters, tag_value
from .fields import Fields
from .sql import marks


class Filtering(Fields):
    TAG_SEPARATOR = "\x00"  # between key and value in a plain tag; Postgres text holds no NUL

    def _tag(self, key: str, value: str | None = None) -> str:
        """A key (value None) or a key=value pair as stored: plain, or a keyed tag when encrypted."""
        if self.cipher is None:
            return key if value is None else f"{key}{self.TAG_SEPARATOR}{value}"
        text = key if value is None else f"{key}\x00{value}"
        return self.cipher.tag(("key\x00" if value is None else "pair\x00") + text)

    def _add_tags(self, chunk_id: int, metadata: dict[str, Any]) -> None:
        rows = {
            (self._tag(key), self._tag(key, tag_value(v)))
            for key, value in metadata.items()
            if isinstance(key, str)
            for v in (value if isinstance(value, list) else [value])
            if v is not None and not isinstance(v, (dict, list))
        }
        self._conn.executemany(
            "INSERT INTO tags (chunk_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(chunk_id, key, value) for key, value in rows],
        )

    def _backfill_tags(self) -> None:
        """A file from before filters: tag every memory's metadata once."""
        with self._lock, self._write():
            rows = self._conn.execute("SELECT id, raw_id, metadata FROM chunks").fetchall()
            for chunk_id, raw_id, sealed in rows:
                try:
                    self._add_tags(
                        chunk_id, json.loads(self._open(sealed, self._field("chunk.metadata", chunk_id, raw_id)))
                    )
                except (EncryptionError, ValueError, UnicodeDecodeError):
                    continue  # a damaged row: `imprint check` reports it

    def matching(self, filters: Filters | None) -> np.ndarray | None:
        """The ids of the memories (indexed or not) that pass `filters`, ascending; None when there
        is no filter (every id passes)."""
        if filters is None:
            return None
        where, values = [], []
        for key, accepted in filters.metadata.items():
            where.append(f"c.id IN (SELECT chunk_id FROM tags WHERE key = ? AND value IN ({marks(accepted)}))")
            values += [self._tag(key), *(self._tag(key, v) for v in accepted)]
        if filters.source is not None:
            where.append("r.source = ?")
            values.append(self._source_key(self._resolve_source(filters.source)))
        plain = self.cipher is None
        if plain and filters.speaker is not None:
            where.append("c.speaker = ?")
            values.append(filters.speaker)
        if plain and filters.since is not None:
            where.append("coalesce(c.time, c.added_at) >= ?")
            values.append(filters.since)
        if plain and filters.until is not None:
            where.append("coalesce(c.time, c.added_at) <= ?")
            values.append(_end_of(filters.until))
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, c.raw_id, c.speaker, c.time, c.added_at FROM chunks c JOIN raw_items r ON r.id = c.raw_id"
                + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY c.id",
                values,
            ).fetchall()
        if not plain and (filters.speaker or filters.since or filters.until):
            rows = [row for row in rows if self._passes_sealed(row, filters)]
        return np.array([row[0] for row in rows], dtype=np.int64)

    def _passes_sealed(self, row: tuple, filters: Filters) -> bool:
        chunk_id, raw_id, speaker, time, added_at = row
        try:
            speaker = self._open(speaker, self._field("chunk.speaker", chunk_id, raw_id))
            when = self._open(time, self._field("chunk.time", chunk_id, raw_id)) or added_at
        except (EncryptionError, UnicodeDecodeError):
            return False
        return (
            (filters.speaker is None or speaker == filters.speaker)
            and (filters.since is None or when >= filters.since)
            and (filters.until is None or when <= _end_of(filters.until))
        )


def _end_of(until: str) -> str:
    """A day given as the upper bound includes the whole day ("2024-07-01" < "2024-07-01T09:00")."""
    return until + "T23:59:59~" if "T" not in until else until
