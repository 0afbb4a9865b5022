"""Damage found and contained: unreadable rows are left out of reads and reported, and
`check` verifies a whole space (and with `repair`, quarantines what fails). Part of SpaceStore."""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import EncryptionError
from ..records import Chunk
from .fields import Fields
from .sql import CHUNK_COLUMNS, ROW_KEYS, now

log = logging.getLogger(__name__)


@dataclass
class Damage:
    table: str
    row_id: int
    reason: str


@dataclass
class CheckReport:
    integrity: str  # the backend's own verdict on its storage ("ok")
    rows_checked: int
    damaged: list[Damage]
    quarantined: int = 0  # rows moved out with --repair


class Checking(Fields):
    damaged: dict[tuple[str, int], str]  # rows found unreadable since opening, and why

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
            log.warning(
                "space %r: %s row %d is damaged and left out (%s); run imprint check --repair",
                self.name,
                table,
                row_id,
                error,
            )
        self.damaged[(table, row_id)] = str(error)

    def check(self, repair: bool = False) -> CheckReport:
        """The backend's integrity check, then every row read back (sealed ones authenticated); with
        `repair`, rows that fail are moved to the quarantine table and the keyword index rebuilt."""
        with self._lock:
            integrity = self.integrity()
            damaged, checked, dims = [], 0, set()
            for table, rows, read in self._check_plan(dims):
                for row in rows:
                    checked += 1
                    try:
                        read(row)
                    except (EncryptionError, ValueError, UnicodeDecodeError, TypeError) as error:
                        damaged.append(Damage(table, row[0], str(error)))
            if len(dims) > 1:
                damaged.append(Damage("vectors", 0, f"vectors of {sorted(dims)} bytes: mixed sizes"))
            report = CheckReport(integrity, checked, damaged)
            if repair and damaged:
                with self._write():
                    for damage in damaged:
                        cursor = self._conn.execute(
                            f"SELECT * FROM {damage.table} WHERE {ROW_KEYS[damage.table]} = ?", (damage.row_id,)
                        )
                        row = cursor.fetchone()
                        if row is None:
                            continue
                        # by column name, values as stored (sealed ones stay sealed): forget finds a
                        # quarantined row by its memory, raw item or source
                        fields = dict(zip((column[0] for column in cursor.description), row))
                        if "raw_id" in fields and "source" not in fields:  # its raw item may go with it
                            fields["source"] = next(
                                iter(
                                    self._conn.execute(
                                        "SELECT source FROM raw_items WHERE id = ?", (fields["raw_id"],)
                                    ).fetchone()
                                    or []
                                ),
                                None,
                            )
                        as_text = json.dumps(
                            {name: value.hex() if isinstance(value, bytes) else value for name, value in fields.items()}
                        )
                        self._conn.execute(
                            "INSERT INTO quarantine (table_name, row_id, reason, row, at) VALUES (?, ?, ?, ?, ?)",
                            (damage.table, damage.row_id, damage.reason, as_text, now()),
                        )
                        report.quarantined += 1
                    self._delete_damaged([d.table for d in damaged], [d.row_id for d in damaged])
                    self._count_deletion()
                self._scrub()
        return report

    def _check_plan(self, dims: set[int]) -> list[tuple[str, list[tuple], Callable[[tuple], object]]]:
        """(table, its rows, how to read one) for every table holding stored content; the sizes of
        the vectors that read go into `dims` (one space has one size)."""
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
            size = len(self._open_bytes(row[1], self._field("vector", row[0])))
            if size % 4:
                raise ValueError("not a float32 vector")
            dims.add(size)

        return [
            (
                "raw_items",
                c.execute("SELECT id, source, time, content, metadata, original FROM raw_items").fetchall(),
                raw,
            ),
            (
                "chunks",
                c.execute(f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN raw_items r ON r.id = c.raw_id").fetchall(),
                self._row_to_chunk,
            ),
            ("vectors", c.execute("SELECT chunk_id, vector FROM vectors").fetchall(), vector),
            (
                "superseded",
                c.execute("SELECT rowid, chunk_id, by_chunk, sentence, now, since FROM superseded").fetchall(),
                superseded,
            ),
        ]
