"""Dense search over a space's vectors, held in memory as one float32 matrix, with an approximate
(HNSW) index beside it once the space is large.

Brute force needs no index build and can never disagree with the rows in SQLite: it answers every
search in a space under ANN_MIN vectors, every filtered search, and every search while the HNSW
index is being built. The matrix follows the store: new rows are appended by id (into a buffer that
doubles, so an ingest's batches do not copy it), and any deletion reloads it. From ANN_MIN vectors
on, a usearch HNSW index (int8) is built in a background thread from the matrix (so a restart or a
crash only costs a rebuild); it takes new rows as they come, drops deleted ones, and is rebuilt
when vectors changed in place (a reindex). Its candidates are re-scored exactly against the
matrix, so similarities are exact and only the candidate set is approximate (benchmarks/store.py
measures how often it misses an exact top-10 memory). usearch's module makes a later import of
onnxruntime crash the process, so the build imports that first.
"""

import logging
import sys
import threading
import time

import numpy as np

from ..store.base import SpaceStore, rows_of

log = logging.getLogger(__name__)

# At 10k vectors the exact scan takes ~1 ms; at 100k ~10 ms, and HNSW ~1 ms (benchmarks/store.py).
ANN_MIN = 20_000
# HNSW candidates per result asked for, re-scored exactly, and its graph's degree. On 30k generated
# facts (near-duplicates: the hard case) the exact top 10 was found 0.89 with 2 and degree 16, 0.95
# with 4 and 32, for ~1 ms more at p95.
ANN_CANDIDATES = 4
ANN_CONNECTIVITY = 32


class VectorIndex:
    def __init__(self, store: SpaceStore, ann_min: int = ANN_MIN) -> None:
        self._store = store
        self._ann_min = ann_min
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix: np.ndarray | None = None  # the first rows of self._buffer, or a reload's own array
        self._buffer: np.ndarray | None = None  # None: the matrix (if any) is not a view of one
        self._deletions = -1
        self._lock = threading.Lock()
        self._ann = None  # the usearch index once built; it holds every id of self._ids
        self._building = False
        self._generation = 0  # bumped when vectors change in place: a build from before is stale

    def _refresh(self) -> None:
        deletions = self._store.deletions()
        if deletions != self._deletions:
            old_ids, old_matrix = self._ids, self._matrix
            self._ids, self._matrix = self._store.vectors_after(0)
            self._buffer = None  # the reload is its own array: the next append copies it into a buffer
            if not len(self._ids):
                self._matrix = None
            self._deletions = deletions
            self._follow_deletions(old_ids, old_matrix)
            return
        last = int(self._ids[-1]) if len(self._ids) else 0
        ids, vectors = self._store.vectors_after(last)
        if len(ids):
            added = np.asarray(vectors, dtype=np.float32)
            self._append(added)
            self._ids = np.concatenate([self._ids, ids])
            if self._ann is not None:
                self._ann.add(ids, added)

    def _append(self, added: np.ndarray) -> None:
        """Add rows to the matrix, a view of a buffer that doubles when full: ingest adds a batch at
        a time, and copying the whole matrix for each (with the exact repeat check in `nearest`)
        made it slow down as the space grew (398 chunks/s up to 100k memories, 120 at 400k:
        docs/benchmarks.md)."""
        held = 0 if self._matrix is None else len(self._matrix)
        needed = held + len(added)
        if self._buffer is None or needed > len(self._buffer):
            buffer = np.empty((max(needed, 2 * held), added.shape[1]), dtype=np.float32)
            if held:
                buffer[:held] = self._matrix
            self._buffer = buffer
        self._buffer[held:needed] = added
        self._matrix = self._buffer[:needed]

    def _follow_deletions(self, old_ids: np.ndarray, old_matrix: np.ndarray | None) -> None:
        """Bring the HNSW index (or the one being built) in step after a reload: ids that are gone
        leave it and new ones join it, unless a surviving vector changed (a reindex): then it is
        built again from the new vectors."""
        if self._ann is None and not self._building:
            return
        kept = np.isin(old_ids, self._ids, assume_unique=True)
        same = (
            old_matrix is not None
            and self._matrix is not None
            and np.array_equal(old_matrix[kept], self._matrix[np.isin(self._ids, old_ids, assume_unique=True)])
        )
        if not same:
            self._ann, self._generation = None, self._generation + 1  # a running build is stale too
        elif self._ann is not None:  # a running build catches up when it ends (_build)
            _reconcile(self._ann, old_ids, self._ids, self._matrix)

    def _build_if_large(self) -> None:
        """Under the lock: start the HNSW build once the space holds ANN_MIN vectors."""
        if self._ann is None and not self._building and len(self._ids) >= self._ann_min:
            self._start_build()

    def _start_build(self) -> None:
        """Build the HNSW index in the background (searches scan exactly meanwhile)."""
        self._building = True
        ids, matrix, generation = self._ids, self._matrix, self._generation
        threading.Thread(target=self._build, args=(ids, matrix, generation), daemon=True, name="imprint-hnsw").start()

    def _build(self, ids: np.ndarray, matrix: np.ndarray, generation: int) -> None:
        try:
            import onnxruntime  # noqa: F401  loaded after usearch, its import dies (SIGSEGV): load it first
            from usearch.index import Index

            index = Index(ndim=matrix.shape[1], metric="cos", dtype="i8", connectivity=ANN_CONNECTIVITY)
            index.add(ids, matrix, threads=2)
        except Exception:  # the exact scan keeps answering; say why there is no index
            log.exception("imprint: building the HNSW index failed; searching by exact scan")
            with self._lock:
                self._building, self._ann_min = False, sys.maxsize  # not again in this process
            return
        with self._lock:
            self._building = False
            if generation == self._generation:
                _reconcile(index, ids, self._ids, self._matrix)
                self._ann = index

    @property
    def approximate(self) -> bool:
        """Whether unfiltered searches go through the HNSW index now."""
        with self._lock:
            return self._ann is not None

    def wait_until_built(self, timeout: float = 600.0) -> bool:
        """Start the HNSW build if the space is large enough, and wait for it (benchmarks, tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._refresh()
            self._build_if_large()
        while time.monotonic() < deadline:
            with self._lock:
                if self._ann is not None or not self._building:
                    return self._ann is not None
            time.sleep(0.05)
        return False

    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the `limit` nearest memories, best first; with
        `allowed` (sorted ids), only among those."""
        query = np.asarray(query, dtype=np.float32)
        with self._lock:
            self._refresh()
            if self._matrix is None or limit <= 0:
                return []
            ids, matrix, ann = self._ids, self._matrix, self._ann
            self._build_if_large()
            if ann is not None and allowed is None:
                keys = np.asarray(ann.search(query, min(len(ids), ANN_CANDIDATES * limit)).keys, dtype=np.int64)
                rows = rows_of(ids, keys)
                return _best(ids[rows], matrix[rows] @ query, limit)
        if allowed is not None:
            rows = rows_of(ids, allowed)
            ids, matrix = ids[rows], matrix[rows]
        return _best(ids, matrix @ query, limit)

    def nearest(self, queries: np.ndarray) -> list[tuple[int, float] | None]:
        """For each query row, its nearest stored memory (id, cosine); None if empty. Ingest asks
        this for every batch (is it a repeat?), so once the HNSW index is built it gives the
        candidates, re-scored exactly; an exact product over every memory per batch made ingest
        slow down as the space grew."""
        queries = np.asarray(queries, dtype=np.float32)
        with self._lock:
            self._refresh()
            if self._matrix is None:
                return [None] * len(queries)
            ids, matrix, ann = self._ids, self._matrix, self._ann
            self._build_if_large()
            if ann is not None:
                keys = np.asarray(ann.search(queries, min(len(ids), ANN_CANDIDATES)).keys, dtype=np.int64)
        if ann is None:
            scores = queries @ matrix.T
            best = scores.argmax(axis=1)
            return [(int(ids[i]), float(scores[row, i])) for row, i in enumerate(best)]
        found: list[tuple[int, float] | None] = []
        for query, candidates in zip(queries, keys.reshape(len(queries), -1)):
            rows = rows_of(ids, candidates)
            found.append(_best(ids[rows], matrix[rows] @ query, 1)[0] if len(rows) else None)
        return found


def _reconcile(index, held: np.ndarray, ids: np.ndarray, matrix: np.ndarray) -> None:
    """Make `index`, which holds the ids `held`, hold exactly `ids` (the rows of `matrix`)."""
    gone = held[~np.isin(held, ids, assume_unique=True)]
    if len(gone):
        index.remove(gone)
    new = ~np.isin(ids, held, assume_unique=True)
    if new.any():
        index.add(ids[new], matrix[new])


def _best(ids: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    limit = min(limit, len(scores))
    if limit == 0:
        return []
    best = np.argpartition(-scores, limit - 1)[:limit]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in best]
