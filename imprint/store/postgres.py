"""The shared store: every space in one PostgreSQL database (psycopg 3), for several servers and
workers on several machines.

Each open space has its own connection, pinned to the space by `imprint.space`; row-level security
(pg_schema.py) keeps every statement on that connection inside it. Writes to one space are
serialised by a transaction-scoped advisory lock, as SQLite's one writer per file does; writes to
different spaces run in parallel. Keyword search is Postgres full-text search (`tsvector`, GIN) ranked
by BM25 computed in SQL: `ts_rank` knows no inverse document frequency, and a rare word must outrank a
common one. Forgetting deletes the rows at once; the bytes leave the database files when VACUUM
reclaims the dead rows and new ones overwrite them (docs/deployment.md).
"""

import base64
import binascii
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from ..errors import EncryptionError, InputError, NotFoundError
from ..records import EmbedderRecord, RawItem
from .base import AddResult, PreparedChunk, SpaceStore, query_words
from .pg_connection import LOCK_CLASS, MIGRATION_LOCK, Connection, sealed_text
from .pg_schema import MIGRATIONS, SPACE_TABLES, security_statements
from .pg_vectors import HNSW_SEARCH, DatabaseVectors
from .sql import now

log = logging.getLogger(__name__)
BM25_K1, BM25_B = 1.2, 0.75
STATISTICS_SECONDS = 30.0  # how long a space's keyword statistics (documents, mean length) are reused


KEYWORD_INDEX_STATEMENT = "ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF"
KEYWORD_INDEX_CHECK = "SELECT proleakproof FROM pg_proc WHERE oid = 'ts_match_vq(tsvector, tsquery)'::regprocedure"


class PostgresDatabase:
    """The spaces of one database: migrates it once, lists, creates and deletes spaces."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = Connection(url)
        try:
            self._refuse_bypassing_role()
            self._migrate()
        except BaseException:
            self._conn.close()
            raise
        if not self._conn.execute(KEYWORD_INDEX_CHECK).fetchone()[0]:
            log.warning(
                "imprint: keyword search on this Postgres reads every keyword row of a space, not its index: "
                "as a superuser, run %s (docs/deployment.md)",
                KEYWORD_INDEX_STATEMENT,
            )

    def _refuse_bypassing_role(self) -> None:
        role, superuser, bypass = self._conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if superuser or bypass:
            raise InputError(
                f"the Postgres role {role!r} bypasses row-level security (superuser or BYPASSRLS), so "
                "spaces would not be kept apart by the database: connect as an ordinary role "
                "(docs/deployment.md shows the two statements that make one)"
            )

    def _migrate(self) -> None:
        """Numbered migrations, recorded in `imprint_migrations`, one process at a time."""
        with self._conn.raw.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_CLASS, MIGRATION_LOCK))
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS imprint_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = self._conn.execute("SELECT coalesce(max(version), 0) FROM imprint_migrations").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[done:], start=done + 1):
                self._conn.raw.execute(script)
                if number == 1:
                    for statement in security_statements():
                        self._conn.raw.execute(statement)
                self._conn.execute("INSERT INTO imprint_migrations VALUES (?, ?)", (number, now()))

    def names(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT name FROM spaces ORDER BY name")]

    def exists(self, name: str) -> bool:
        return self._conn.execute("SELECT 1 FROM spaces WHERE name = ?", (name,)).fetchone() is not None

    def open(self, name: str, master_key: bytes | None) -> "PostgresStore":
        """The space `name`, created if new."""
        self._conn.execute(
            "INSERT INTO spaces (name, token, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (name, secrets.token_hex(8), now()),
        )
        return PostgresStore(self.url, name, master_key)

    def delete(self, name: str) -> None:
        """Delete a space's rows in every table (they all cascade from its `spaces` row)."""
        if not self._conn.execute("DELETE FROM spaces WHERE name = ?", (name,)).rowcount:
            raise NotFoundError(f"no space {name!r}")

    def vacuum(self) -> str:
        """VACUUM FULL every space table: each is rewritten without the rows forgetting deleted, so
        their bytes leave the table and index files (a plain VACUUM only marks the space free). It
        locks each table for every space while it runs. Then a checkpoint, if the role may, lets
        the write-ahead log that still holds them be recycled. Returns what was done."""
        for table in SPACE_TABLES:
            self._conn.execute(f"VACUUM FULL {table}")
        try:
            self._conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            return "tables rewritten; no CHECKPOINT (the role needs pg_checkpoint): the WAL keeps the rows until one"
        return "tables rewritten and checkpointed"

    def close(self) -> None:
        self._conn.close()


class PostgresStore(SpaceStore):
    """All durable state of one space, as rows of the shared tables that carry its id."""

    TAG_SEPARATOR = "\x1f"

    def __init__(self, url: str, name: str, master_key: bytes | None = None) -> None:
        self.name = name
        self.url = url
        self._lock = threading.RLock()
        self._statistics: tuple[float, int, float] | None = None  # (when, documents, mean distinct words)
        self._searchable = False  # whether vectors get a pgvector copy: known once the cipher is
        self.space_id: int | None = None
        self._conn = Connection(url, self._pin)
        try:
            self._open_space(master_key)
            self._searchable = self.cipher is None
        except BaseException:
            self._conn.close()
            raise

    def _pin(self, raw: psycopg.Connection) -> None:
        """Set up each of the space's connections: every statement on it sees only this space."""
        if self.space_id is None:
            row = raw.execute("SELECT id, token FROM spaces WHERE name = %s", (self.name,)).fetchone()
            if row is None:
                raise NotFoundError(f"no space {self.name!r}")
            self.space_id, self._token = row
        raw.execute(
            "SELECT set_config('imprint.space', %s, false), set_config('hnsw.ef_search', %s, false)",
            (str(self.space_id), str(HNSW_SEARCH)),
        )
        register_vector(raw)

    def release(self) -> bool:
        """Close the space's connection unless a statement is running (the next one connects
        again): a process serving many spaces keeps only the busy ones connected."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._conn.close()
        finally:
            self._lock.release()
        return True

    def _migrate(self, master_key: bytes | None) -> int:
        """The database is migrated by PostgresDatabase; a new space gets its settings here."""
        with self._lock, self._write():
            if self._conn.execute("SELECT 1 FROM meta WHERE key = 'deletions'").fetchone():
                return len(MIGRATIONS)
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('deletions', '0')")
            if master_key is not None:
                self._new_encryption(master_key)
        return 0

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._conn.raw.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_CLASS, self.space_id))
            yield
            if self._searchable:
                self._fill_embeddings()

    def _insert_vector(self, chunk_id: int, vector: np.ndarray) -> None:
        """The bytes, and the pgvector copy in the same row when the space is searched here (an
        update after the insert would leave a dead row behind for every vector)."""
        if self._searchable:
            self._conn.execute(
                "INSERT INTO vectors (chunk_id, vector, embedding) VALUES (?, ?, ?)",
                (chunk_id, vector.tobytes(), vector),
            )
        else:
            super()._insert_vector(chunk_id, vector)

    def _fill_embeddings(self) -> None:
        """Give each new or changed vector its pgvector copy, in the transaction that wrote it."""
        rows = self._conn.execute("SELECT chunk_id, vector FROM vectors WHERE embedding IS NULL").fetchall()
        self._conn.executemany(
            "UPDATE vectors SET embedding = ? WHERE chunk_id = ?",
            [(np.frombuffer(blob, dtype=np.float32), chunk_id) for chunk_id, blob in rows],
        )

    def _next_ids(self, table: str, count: int) -> int:
        return (
            self._conn.execute(
                "UPDATE spaces SET last_ids ="
                " jsonb_set(last_ids, ARRAY[?], to_jsonb(coalesce((last_ids->>?)::bigint, 0) + ?))"
                " WHERE id = ? RETURNING (last_ids->>?)::bigint",
                (table, table, count, self.space_id, table),
            ).fetchone()[0]
            - count
            + 1
        )

    def add(
        self, items: list[tuple[RawItem, list[PreparedChunk]]], embedder: EmbedderRecord | None = None
    ) -> list[AddResult]:
        """SpaceStore.add with its statements pipelined: sent without waiting for each reply, so a
        batch costs a round trip per item (its duplicate check) instead of one per statement."""
        with self._lock, self._conn.raw.pipeline():
            return super().add(items, embedder)

    def _among(self, column: str, allowed: np.ndarray | None) -> tuple[str, list]:
        if allowed is None:
            return "", []
        return f" AND {column} = ANY(CAST(? AS BIGINT[]))", [allowed.tolist()]

    # sealed values are bytes; the text columns they go into hold them as base64

    def _to_column(self, sealed: bytes | None) -> str | None:
        return None if sealed is None else sealed_text(sealed)

    def _from_column(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as error:
            raise EncryptionError(f"a sealed value of space {self.name!r} is not base64: {error}") from error

    # keywords: full-text search with BM25 ranking

    def _text_search_config(self) -> str:
        """English stemming for words; 'simple' for the keyed tags of an encrypted space."""
        return "english" if self.cipher is None else "simple"

    def _index_keywords(self, rows: list[tuple[int, str]]) -> None:
        config = self._text_search_config()
        self._conn.executemany(
            f"INSERT INTO keywords (chunk_id, terms) VALUES (?, to_tsvector('{config}', ?))",
            [(chunk_id, self._index_text(text)) for chunk_id, text in rows],
        )

    def _unindex_keywords(self, rows: list[tuple[int, str]], unreadable: list[int]) -> None:
        ids = [chunk_id for chunk_id, _ in rows] + unreadable
        self._conn.execute("DELETE FROM keywords WHERE chunk_id = ANY(CAST(? AS BIGINT[]))", (ids,))

    def _clear_keywords(self) -> None:
        self._conn.execute("DELETE FROM keywords")

    def keyword_search(self, query: str, limit: int, allowed: np.ndarray | None = None) -> list[int]:
        """BM25 over the space's documents: each query word's weight is its inverse document frequency,
        term frequency saturates (k1) and long memories are normalised (b), as FTS5 scores. The
        frequencies are counted over the memories that hold any query word, in the same statement."""
        words = query_words(query)
        if not words:
            return []
        config = self._text_search_config()
        with self._lock:
            lexemes = [
                row[0]
                for row in self._conn.execute(
                    f"SELECT DISTINCT lexeme FROM unnest(to_tsvector('{config}', ?))",
                    (" ".join(self._index_text(w) for w in words),),
                )
            ]
            if not lexemes:
                return []
            documents, mean_length = self._keyword_statistics()
            only, ids = self._among("m.chunk_id", allowed)
            rows = self._conn.execute(
                "WITH matched AS (SELECT k.chunk_id, length(k.terms) AS size, t.lexeme, cardinality(t.positions) AS tf"
                "  FROM keywords k CROSS JOIN LATERAL unnest(k.terms) t"
                "  WHERE k.space = ? AND k.terms @@ to_tsquery('simple', ?) AND t.lexeme = ANY(CAST(? AS TEXT[]))),"
                " frequency AS (SELECT lexeme, count(*) AS n FROM matched GROUP BY lexeme)"
                " SELECT m.chunk_id, sum(ln(1 + (greatest(?, f.n) - f.n + 0.5) / (f.n + 0.5)) * m.tf * ?"
                "  / (m.tf + ? * (1 - ? + ? * m.size / ?))) AS score"
                f" FROM matched m JOIN frequency f USING (lexeme) WHERE true{only}"
                " GROUP BY m.chunk_id ORDER BY score DESC, m.chunk_id LIMIT ?",
                [
                    self.space_id,
                    " | ".join(f"'{lexeme}'" for lexeme in lexemes),
                    lexemes,
                    documents,
                    BM25_K1 + 1,
                    BM25_K1,
                    BM25_B,
                    BM25_B,
                    mean_length,
                    *ids,
                    limit,
                ],
            ).fetchall()
        return [row[0] for row in rows]

    def _keyword_statistics(self) -> tuple[int, float]:
        """(memories indexed, their mean number of distinct words), counted once and reused for a
        while: BM25 needs them, and counting scans the space's keyword rows."""
        if self._statistics is None or time.monotonic() - self._statistics[0] > STATISTICS_SECONDS:
            documents, mean = self._conn.execute(
                "SELECT count(*), avg(length(terms)) FROM keywords WHERE space = ?", (self.space_id,)
            ).fetchone()
            self._statistics = (time.monotonic(), documents, float(mean or 1.0))
        return self._statistics[1], self._statistics[2]

    def vectors_in_database(self) -> DatabaseVectors | None:
        """Dense search by pgvector, unless the space is encrypted (its vectors are sealed)."""
        return DatabaseVectors(self) if self.cipher is None else None

    def _scrub(self) -> None:
        """Nothing at once: the rows are gone from every query and index; VACUUM (`vacuum`, or
        autovacuum) reclaims their space."""

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def is_replaced(self) -> bool:
        """Whether the space was deleted (and perhaps made again) since it was opened."""
        with self._lock:
            row = self._conn.execute("SELECT token FROM spaces WHERE id = ?", (self.space_id,)).fetchone()
        return row is None or row[0] != self._token

    def size_bytes(self) -> int:
        """The space's share of the shared tables: the bytes of its rows (indexes not counted)."""
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT coalesce((SELECT sum(pg_column_size(r)) FROM raw_items r), 0)"
                    " + coalesce((SELECT sum(pg_column_size(c)) FROM chunks c), 0)"
                    " + coalesce((SELECT sum(pg_column_size(v)) FROM vectors v), 0)"
                ).fetchone()[0]
            )

    def integrity(self) -> str:
        """Postgres checks its pages itself (with data checksums, if the cluster has them on)."""
        return "ok"
