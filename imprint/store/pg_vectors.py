"""Dense search inside Postgres (pgvector): exact scans of a space's rows, and its own HNSW index
once it is large, built in the background."""

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from .pg_connection import LOCK_CLASS, Connection

if TYPE_CHECKING:
    from .postgres import PostgresStore

log = logging.getLogger(__name__)
# From this many vectors a space gets its own HNSW index (a partial index on its rows); below it an
# exact scan of the space's rows is fast enough and always agrees with them.
HNSW_MIN = 5_000
HNSW_SEARCH = 200  # hnsw.ef_search: candidates the index walks per search (pgvector's default is 40)
HNSW_CHECK_SECONDS = 60.0  # how often searches look whether the space has grown into needing its index
NEAREST_BATCH = 256  # queries per statement when looking for each new memory's nearest stored one


class DatabaseVectors:
    """Dense search inside Postgres (pgvector, cosine): what `VectorIndex` does in memory, with nothing
    held by the server. A space of HNSW_MIN vectors or more gets its own partial HNSW index, built
    concurrently in the background by whichever process first sees the space that large; until it
    exists, and for every filtered search, the space's rows are scanned exactly."""

    def __init__(self, store: "PostgresStore") -> None:
        self._store = store
        self._building = threading.Lock()
        self._checked = -HNSW_CHECK_SECONDS  # when the space's size was last looked at (monotonic)
        self._indexed = False  # whether the space's HNSW index existed then (else: exact scans, no cast per row)

    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the `limit` nearest memories, best first."""
        query = np.asarray(query, dtype=np.float32)
        store = self._store
        distance, where = self._nearest_to("?", len(query), allowed is None)
        only, ids = store._among("chunk_id", allowed)
        with store._lock:
            rows = store._conn.execute(  # ordered by the distance itself, so the index can answer
                f"SELECT chunk_id, 1 - {distance} FROM vectors WHERE {where}{only} ORDER BY {distance} LIMIT ?",
                [query, *ids, query, limit],
            ).fetchall()
        if allowed is None:
            self._index_if_large(len(query))
        return [(int(chunk_id), float(similarity)) for chunk_id, similarity in rows]

    def nearest(self, queries: np.ndarray) -> list[tuple[int, float] | None]:
        """For each query row, its nearest stored memory (id, cosine); None if the space has none.
        One statement per NEAREST_BATCH queries: a lateral join searches for each."""
        queries = np.asarray(queries, dtype=np.float32)
        found: list[tuple[int, float] | None] = [None] * len(queries)
        if not len(queries):
            return found
        store = self._store
        distance, where = self._nearest_to("q.e", queries.shape[1], True)
        for start in range(0, len(queries), NEAREST_BATCH):
            with store._lock:
                rows = store._conn.raw.execute(  # %b: an array of vectors in binary (as text it takes 100x longer)
                    "SELECT q.i, n.chunk_id, n.similarity FROM unnest(CAST(%b AS vector[])) WITH ORDINALITY AS q(e, i)"
                    f" CROSS JOIN LATERAL (SELECT chunk_id, 1 - {distance} AS similarity FROM vectors WHERE {where}"
                    f" ORDER BY {distance} LIMIT 1) AS n",
                    (list(queries[start : start + NEAREST_BATCH]),),
                ).fetchall()
            for position, chunk_id, similarity in rows:
                found[start + position - 1] = (int(chunk_id), float(similarity))
        self._index_if_large(queries.shape[1])
        return found

    def _nearest_to(self, query: str, dims: int, whole_space: bool) -> tuple[str, str]:
        """The distance to `query` (SQL) and the rows to look at, in the form the space's HNSW index
        matches (its dimensions and space) when a search over the whole space may use it."""
        if whole_space and self._indexed:
            return (
                f"(embedding::vector({dims}) <=> {query}::vector({dims}))",
                f"space = {int(self._store.space_id)} AND vector_dims(embedding) = {dims}",
            )
        return f"(embedding <=> {query})", "embedding IS NOT NULL"

    def _index_name(self, dims: int) -> str:
        return f"vectors_hnsw_{int(self._store.space_id)}_{dims}"

    def _index_state(self, name: str) -> bool | None:
        """Whether the index `name` is valid (built): None when there is none, False while a
        concurrent build is under way or after one failed."""
        store = self._store
        with store._lock:
            row = store._conn.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ?",
                (name,),
            ).fetchone()
        return None if row is None else row[0]

    def _index_if_large(self, dims: int) -> None:
        """Start building the space's HNSW index once it is large enough (in one process only)."""
        store = self._store
        name = self._index_name(dims)
        if time.monotonic() - self._checked < HNSW_CHECK_SECONDS or not self._building.acquire(blocking=False):
            return
        self._checked = time.monotonic()
        try:
            state = self._index_state(name)
            self._indexed = bool(state)
            with store._lock:  # an invalid index (state False) is a build under way or one that failed
                needed = (
                    state is False
                    or state is None
                    and store._conn.execute(
                        "SELECT count(*) >= ? FROM vectors WHERE embedding IS NOT NULL", (HNSW_MIN,)
                    ).fetchone()[0]
                )
        except BaseException:
            self._building.release()
            raise
        if not needed:
            self._building.release()
            return
        threading.Thread(target=self._build, args=(name, dims), daemon=True, name=f"hnsw-{store.name}").start()

    def _build(self, name: str, dims: int) -> None:
        """CREATE INDEX CONCURRENTLY: writers go on meanwhile; an advisory lock keeps other
        processes from building the same index. An invalid index found while holding that lock is
        a build that failed (a process killed, a cancelled statement): it is dropped and built again."""
        space = int(self._store.space_id)
        try:
            conn = Connection(self._store.url)
            try:
                if conn.execute("SELECT pg_try_advisory_lock(?, ?)", (LOCK_CLASS + 1, space)).fetchone()[0]:
                    if self._index_state(name) is False:
                        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                    conn.execute(
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON vectors USING hnsw"
                        f" ((embedding::vector({dims})) vector_cosine_ops)"
                        f" WHERE space = {space} AND vector_dims(embedding) = {dims}"
                    )
                    self._indexed = self._index_state(name) is True
            finally:
                conn.close()
        finally:
            self._building.release()

    def wait_until_built(self, timeout: float = 600.0) -> bool:
        """Start the space's HNSW build if it is large enough, and wait for it (benchmarks, tests)."""
        store = self._store
        with store._lock:
            row = store._conn.execute(
                "SELECT vector_dims(embedding) FROM vectors WHERE embedding IS NOT NULL LIMIT 1"
            ).fetchone()
        if row is None:
            return False
        name = self._index_name(row[0])
        self._checked = -HNSW_CHECK_SECONDS
        self._index_if_large(row[0])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            building = self._building.locked()  # read first: once the build is over, the state read next is final
            state = self._index_state(name)
            if state or not building:
                self._indexed = bool(state)
                return self._indexed
            time.sleep(0.2)
        return False
