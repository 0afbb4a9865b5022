"""The embedded store: one SQLite file per space, in WAL mode.

Raw items are kept exactly as they came; chunks (the memories that are searched) and their
vectors point back to their raw item and are written in the same transaction, so a write is
all-or-nothing and a killed process leaves either the whole item or none of it. Keyword search
is a contentless FTS5 table (BM25, porter stemming) the store keeps in step itself; vectors are
float32 BLOBs searched by `VectorIndex`, because this Python's sqlite3 cannot load extensions such
as sqlite-vec (docs/architecture.md).

With a master key the space is encrypted at rest (see crypto.py): contents and vectors are sealed,
the keyword index holds keyed tags instead of words. Forgetting overwrites what it deletes
(secure_delete, a merged keyword index, a truncated WAL), so forgotten text leaves the file.
"""

import json
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

from .base import SpaceStore, query_words, rows_of
from .schema import IDENTIFIER_VERSION, MIGRATIONS, SUBJECT_VERSION, TAGS_VERSION
from .schema import statements as schema_statements

# The files SQLite keeps for one space: the database, its write-ahead log and shared memory, and a
# rollback journal. Exactly these are deleted with the space: never a glob, which would also match
# another space whose name starts with this file's name.
FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


# BM25 costs FTS5 a lookup per matching row (~1.5 us): a question whose words match 5,000 of 1M
# memories took 8-15 ms to rank. Past this many rows, the most common words only add to the score
# of rows that a rarer word matches (Elasticsearch's "common terms" query): the same scores, and
# rows that match common words alone drop out. Measured in docs/benchmarks.md.
RANKED_ROWS = 2000


def _any_of(terms: list[str]) -> str:
    """A safe FTS5 query: each term quoted (terms are words or index tokens, never quotes), OR-ed."""
    return " OR ".join(f'"{t}"' for t in terms)


def _common_terms_query(rare: list[str], common: list[str]) -> str:
    """Rows with any of `rare`, ranked by BM25 over all the terms: the rows matching `common` only are
    taken out with NOT, whose right-hand side FTS5 leaves out of the score."""
    if not common:
        return _any_of(rare)
    only_common = " NOT ".join([f"({_any_of(common)})", *(f'"{t}"' for t in rare)])
    return f"({_any_of(rare + common)}) NOT ({only_common})"


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: the all-or-nothing write."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")


class SqliteStore(SpaceStore):
    """All durable state of one space, in one SQLite file."""

    SUBJECT_VERSION, TAGS_VERSION, IDENTIFIER_VERSION = SUBJECT_VERSION, TAGS_VERSION, IDENTIFIER_VERSION

    def __init__(self, path: Path, master_key: bytes | None = None) -> None:
        self.path = Path(path)
        self.name = self.path.stem
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
            self._open_space(master_key)
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self, master_key: bytes | None) -> int:
        """Bring the schema up to date (returns the version it had); a new file with a key is marked
        encrypted in the same transaction."""
        with self._lock, self._write():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in schema_statements(script):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={number}")
            if version == 0 and master_key is not None:
                self._new_encryption(master_key)
        return version

    def _write(self) -> Transaction:
        return Transaction(self._conn)

    def _next_ids(self, table: str, count: int) -> int:
        """The id AUTOINCREMENT would give the next row (the write transaction holds the file, so the
        ids after it are free too)."""
        used = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        highest = self._conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
        return max(used[0] if used else 0, highest or 0) + 1

    def _among(self, column: str, allowed: np.ndarray | None) -> tuple[str, list]:
        """One JSON list parameter: any number of ids."""
        if allowed is None:
            return "", []
        return f" AND {column} IN (SELECT value FROM json_each(?))", [json.dumps(allowed.tolist())]

    def _index_keywords(self, rows: list[tuple[int, str]]) -> None:
        self._conn.executemany(
            "INSERT INTO keywords (rowid, text) VALUES (?, ?)",
            [(chunk_id, self._index_text(text)) for chunk_id, text in rows],
        )

    def _unindex_keywords(self, rows: list[tuple[int, str]], unreadable: list[int]) -> None:
        """A contentless FTS5 index forgets an entry only given its words: one whose text no longer
        reads is dropped by rebuilding the index without it."""
        self._conn.executemany(
            "INSERT INTO keywords (keywords, rowid, text) VALUES ('delete', ?, ?)",
            [(chunk_id, self._index_text(text)) for chunk_id, text in rows],
        )
        if unreadable:
            self._rebuild_keywords(exclude=set(unreadable))

    def _clear_keywords(self) -> None:
        self._conn.execute("INSERT INTO keywords (keywords) VALUES ('delete-all')")

    def _rows_matching(self, term: str, cap: int) -> int:
        """How many rows hold `term`, counted up to `cap` (reads at most that much of its postings)."""
        return self._conn.execute(
            "SELECT count(*) FROM (SELECT rowid FROM keywords WHERE keywords MATCH ? LIMIT ?)", [_any_of([term]), cap]
        ).fetchone()[0]

    def _keyword_match(self, query: str) -> str | None:
        """The FTS5 query for `query`'s words: all of them OR-ed, or, when they match more than
        RANKED_ROWS rows together, a common-terms query led by the rarest words within that budget."""
        terms = [self._index_text(w) for w in query_words(query)]
        if not terms:
            return None
        counts = {t: self._rows_matching(t, RANKED_ROWS + 1) for t in terms}
        rare, total = [], 0
        for term in sorted(terms, key=counts.__getitem__):
            if total + counts[term] > RANKED_ROWS:
                break
            rare.append(term)
            total += counts[term]
        if not rare:
            return _any_of(terms)
        return _common_terms_query(rare, [t for t in terms if t not in rare])

    def keyword_search(self, query: str, limit: int, allowed: np.ndarray | None = None) -> list[int]:
        """BM25 rank (FTS5). With `allowed`, every match is ranked and those allowed kept: FTS5 answers
        `rowid IN (...)` by running the query once per id (1,000 ids took 300 ms at 1M memories)."""
        with self._lock:
            match = self._keyword_match(query)
            if match is None:
                return []
            rows = self._conn.execute(
                "SELECT rowid FROM keywords WHERE keywords MATCH ? ORDER BY rank LIMIT ?",
                [match, limit if allowed is None else -1],
            ).fetchall()  # -1: all
        ranked = np.array([row[0] for row in rows], dtype=np.int64)
        if allowed is not None:
            ranked = allowed[rows_of(allowed, ranked)][:limit] if len(allowed) else ranked[:0]
        return ranked.tolist()

    def _scrub(self) -> None:
        """Merge the keyword index (dropping deleted entries) and move the WAL into the file, whose
        freed pages secure_delete has zeroed."""
        with self._write():
            self._conn.execute("INSERT INTO keywords (keywords) VALUES ('optimize')")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def is_replaced(self) -> bool:
        """Whether the file was deleted or replaced since it was opened (another process forgot the
        space): one stat, so a long-running server checks it on every request and writes nothing into
        an unlinked file."""
        return _file_identity(self.path) != self._identity

    def size_bytes(self) -> int:
        files = [self.path.with_name(self.path.name + suffix) for suffix in FILE_SUFFIXES]
        return sum(f.stat().st_size for f in files if f.exists())

    def integrity(self) -> str:
        with self._lock:
            return "; ".join(r[0] for r in self._conn.execute("PRAGMA integrity_check").fetchall())


class SqliteFiles:
    """The spaces of one data folder: a SQLite file each."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.data_dir.glob("*.sqlite"))

    def exists(self, name: str) -> bool:
        return self._file(name).exists()

    def open(self, name: str, master_key: bytes | None) -> SqliteStore:
        """The space `name`, created if new."""
        return SqliteStore(self._file(name), master_key)

    def delete(self, name: str) -> None:
        """Exactly the space's own files (its WAL, shared memory and journal with it)."""
        base = self._file(name)
        for suffix in FILE_SUFFIXES:
            base.with_name(base.name + suffix).unlink(missing_ok=True)

    def vacuum(self) -> str:
        """Nothing to do: forgetting already overwrote the bytes (secure_delete, truncated WAL)."""
        return "nothing to do: SQLite overwrote the deleted rows at once"

    def close(self) -> None:
        """Nothing to close: each store holds its own file."""

    def _file(self, name: str) -> Path:
        return self.data_dir / f"{name}.sqlite"
