import multiprocessing

import numpy as np
import pytest

from imprint.errors import NotFoundError
from imprint.recall.dense import VectorIndex
from imprint.records import EmbedderRecord, RawItem, Segment
from imprint.store import sqlite
from imprint.store.base import PreparedChunk
from imprint.store.sqlite import (
    MIGRATIONS,
    SUBJECT_VERSION,
    TAGS_VERSION,
    SqliteStore,
)


def unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def item(text: str, source: str = "s") -> tuple[RawItem, list[PreparedChunk]]:
    raw = RawItem(source=source, kind="text", content=text, segments=[Segment(text)])
    return raw, [PreparedChunk(text=text, tokens=len(text.split()), vector=unit(len(text)))]


def test_add_persists_and_reopens(backend):
    store = backend.open("a", None)
    [result] = store.add([item("Mira moved to Tallinn.")])
    store.close()
    reopened = backend.open("a", None)
    [chunk] = reopened.get(result.chunk_ids)
    assert chunk.text == "Mira moved to Tallinn." and chunk.source == "s"
    assert reopened.raw_item(chunk.raw_id).content == "Mira moved to Tallinn."
    assert backend.names() == ["a"] and backend.exists("a") and not backend.exists("b")


def test_names_map_to_their_entity_ids_with_and_without_encryption(backend):
    from imprint.store.crypto import decode_master_key, new_master_key

    for name, key in (("plain", None), ("sealed", decode_master_key(new_master_key(), "test"))):
        store = backend.open(name, key)
        raw, [chunk] = item("Quillon Varga founded Zorblat Industries.")
        chunk.entities = ["quillon varga", "zorblat industries"]
        store.add([(raw, [chunk])])
        ids = store.entity_ids({"quillon varga", "zorblat industries", "nobody"})
        assert set(ids) == {"quillon varga", "zorblat industries"}
        assert set(ids.values()) == set(store.entities_named({"quillon varga", "zorblat industries"}))


def test_a_sqlite_space_is_migrated_and_in_wal_mode(tmp_path):
    store = SqliteStore(tmp_path / "a.sqlite")
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_same_content_from_same_source_is_stored_once(backend):
    store = backend.open("a", None)
    first = store.add([item("a fact")])[0]
    again = store.add([item("a fact")])[0]
    other = store.add([item("a fact", source="elsewhere")])[0]
    assert again.duplicate and again.chunk_ids == first.chunk_ids
    assert not other.duplicate
    assert store.count() == 2


def test_a_failed_write_leaves_nothing_behind(backend):
    store = backend.open("a", None)
    store.add([item("kept before")])
    good = item("would be fine")
    bad_raw, bad_chunks = item("breaks mid-write")
    bad_chunks.append(PreparedChunk(text="second chunk", tokens=2, vector=None))  # fails on insert
    bad_chunks[1].vector = object()
    with pytest.raises(Exception):  # noqa: B017
        store.add([good, (bad_raw, bad_chunks)])
    assert [c.text for c in store.list_memories()] == ["kept before"]
    assert store._conn.execute("SELECT count(*) FROM raw_items").fetchone()[0] == 1
    assert store.keyword_search("fine", 5) == []


def test_delete_removes_keyword_entry_vector_and_raw(backend):
    store = backend.open("a", None)
    [a], [b] = (r.chunk_ids for r in store.add([item("tallinn harbour"), item("riga bakery")]))
    assert store.keyword_search("tallinn", 5) == [a]
    store.delete_memory(a)
    assert store.keyword_search("tallinn", 5) == []
    ids, _ = store.vectors_after(0)
    assert list(ids) == [b]
    assert store._conn.execute("SELECT count(*) FROM raw_items").fetchone()[0] == 1
    with pytest.raises(NotFoundError):
        store.delete_memory(a)


def test_delete_source(backend):
    store = backend.open("a", None)
    store.add([item("one", "x"), item("two", "x"), item("three", "y")])
    assert len(store.delete_source("x")) == 2
    assert [c.text for c in store.list_memories()] == ["three"]
    with pytest.raises(NotFoundError):
        store.delete_source("x")


def test_vector_index_follows_additions_and_deletions(backend):
    store = backend.open("a", None)
    index = VectorIndex(store)
    [a] = store.add([item("alpha")])[0].chunk_ids
    assert index.search(unit(len("alpha")), 1)[0][0] == a
    # a second connection (another process) writes; the index must see it
    other = backend.open("a", None)
    [b] = other.add([item("beta gamma")])[0].chunk_ids
    assert index.search(unit(len("beta gamma")), 1)[0][0] == b
    other.delete_memory(b)
    assert [i for i, _ in index.search(unit(len("beta gamma")), 5)] == [a]


def test_the_hnsw_index_follows_the_rows_and_its_similarities_are_exact(backend):
    store = backend.open("a", None)

    def row(i: int):
        raw = RawItem(source=f"s{i}", kind="text", content=f"memory {i}", segments=[Segment(f"memory {i}")])
        return raw, [PreparedChunk(text=f"memory {i}", tokens=2, vector=unit(i, 32))]

    ids = [result.chunk_ids[0] for result in store.add([row(i) for i in range(400)])]
    exact, ann = VectorIndex(store, ann_min=10**9), VectorIndex(store, ann_min=100)
    assert not ann.approximate and ann.wait_until_built(120) and ann.approximate
    assert not exact.wait_until_built(1)  # under its threshold: exact scans only
    agree = 0
    for i in range(0, 400, 10):  # approximate: the exact best is usually first, and every similarity is exact
        found = ann.search(unit(i, 32), 10)
        expected = dict(exact.search(unit(i, 32), 1000))
        assert all(similarity == pytest.approx(expected[m], abs=1e-6) for m, similarity in found)
        agree += found[0][0] == ids[i]
    assert agree >= 36
    index = ann._ann  # the usearch index: what it holds follows the rows
    assert len(index) == 400
    [new] = store.add([row(1000)])[0].chunk_ids
    ann.search(unit(1000, 32), 5)
    assert new in index and len(index) == 401
    store.delete_memory(ids[0])
    assert ids[0] not in [m for m, _ in ann.search(unit(0, 32), 50)]
    assert ann.approximate and ann._ann is index and ids[0] not in index  # followed, not rebuilt
    # every vector changes in place (a reindex): the old index is dropped, exact scans answer, then a new one
    target = EmbedderRecord("another", 32)
    while not store.swap_staged(target):
        store.stage_vectors({m: unit(m + 5000, 32) for m, *_ in store.unstaged(target, 1000)})
    ann.search(unit(ids[7] + 5000, 32), 1)
    assert ann._ann is not index  # dropped at once: the old vectors never answer again
    assert ann.wait_until_built(120) and len(ann._ann) == 400
    agree = sum(ann.search(unit(m + 5000, 32), 10)[0][0] == m for m in ids[1:400:10])
    assert agree >= 36


def test_ingest_s_repeat_check_goes_through_the_hnsw_index_and_the_matrix_grows_in_place(backend):
    """Ingest asks `nearest` for every batch: an exact product over every memory, and a copy of the
    whole matrix per batch, made ingest slow down as the space grew."""
    store = backend.open("a", None)

    def rows(numbers):
        return [
            (
                RawItem(source=f"s{i}", kind="text", content=f"memory {i}", segments=[Segment(f"memory {i}")]),
                [PreparedChunk(text=f"memory {i}", tokens=2, vector=unit(i, 32))],
            )
            for i in numbers
        ]

    ids = [result.chunk_ids[0] for result in store.add(rows(range(400)))]
    index = VectorIndex(store, ann_min=100)
    assert index.nearest(np.stack([unit(3, 32)])) == [(ids[3], pytest.approx(1.0, abs=1e-6))]  # exact; starts the build
    assert index.wait_until_built(120)

    class Counted:  # the usearch index, its searches counted
        def __init__(self, inner):
            self.inner, self.searches = inner, 0

        def search(self, *args, **kwargs):
            self.searches += 1
            return self.inner.search(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    index._ann = counted = Counted(index._ann)
    found = index.nearest(np.stack([unit(i, 32) for i in range(0, 400, 10)]))
    assert counted.searches == 1  # one batch search, re-scored exactly
    assert sum(memory_id == ids[i] for (memory_id, _), i in zip(found, range(0, 400, 10))) >= 38
    assert all(similarity <= 1.0 + 1e-6 for _, similarity in found)
    for start in range(400, 1000, 200):  # batches join the buffer without copying what is held
        added = [result.chunk_ids[0] for result in store.add(rows(range(start, start + 200)))]
        before = index._buffer
        [(memory_id, similarity)] = index.nearest(np.stack([unit(start + 7, 32)]))
        assert memory_id == added[7] and similarity == pytest.approx(1.0, abs=1e-6)
        assert np.shares_memory(index._matrix, index._buffer) and len(index._matrix) == start + 200
        assert index._buffer is before or len(index._buffer) >= 2 * start  # kept, or doubled
    store.delete_memory(ids[0])  # a deletion reloads the matrix; the next batch starts a buffer again
    [extra] = store.add(rows([5000]))[0].chunk_ids
    assert index.nearest(np.stack([unit(5000, 32)]))[0][0] == extra
    assert ids[0] not in [m for m, _ in index.search(unit(0, 32), 50)]


def test_keyword_search_takes_any_text(tmp_path):
    store = SqliteStore(tmp_path / "k.sqlite")
    [mira] = store.add([item("Mira went to the NEAR market.")])[0].chunk_ids
    assert store.keyword_search("the of and", 5) == []
    assert store.keyword_search('Where "did" Mira* go? (AND) NEAR', 5) == [mira]


def test_a_filtered_keyword_search_ranks_only_the_allowed_memories_as_the_full_one_does(backend):
    store = backend.open("k", None)
    texts = [f"Mira's garden note {n}" + " with roses" * (n % 4) for n in range(30)] + ["Tom's bicycle."]
    ids = [r.chunk_ids[0] for r in store.add([item(t, source=str(n)) for n, t in enumerate(texts)])]
    everything = store.keyword_search("Mira garden roses", 50)
    allowed = np.array(sorted(ids[1::3] + ids[-1:]))
    assert store.keyword_search("Mira garden roses", 50, allowed) == [i for i in everything if i in allowed]
    assert store.keyword_search("Mira garden roses", 3, allowed) == [i for i in everything if i in allowed][:3]
    assert store.keyword_search("Mira garden roses", 5, np.array([], dtype=np.int64)) == []


def test_past_its_budget_a_common_word_only_adds_to_the_score_of_rows_a_rarer_word_matches(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "k.sqlite")
    texts = [f"The garden {n} has roses." for n in range(6)] + [
        "Mira planted the garden by the garden wall.",
        "Mira sold a bicycle.",
        "Mira and Tom cooked.",
    ]
    texts += [f"Tom fixed roof number {n}." for n in range(20)]
    ids = [r.chunk_ids[0] for r in store.add([item(t, source=str(n)) for n, t in enumerate(texts)])]
    everything = store.keyword_search("Mira garden", 50)
    assert set(everything) == set(ids[:9]) and everything[0] == ids[6]  # both words: first
    monkeypatch.setattr(sqlite, "RANKED_ROWS", 4)  # "mira" (3 rows) fits, "garden" (7) does not
    capped = store.keyword_search("Mira garden", 50)
    assert capped == [i for i in everything if i in ids[6:9]]  # the same order: "garden" still counts
    assert store.keyword_search("Mira", 50)[0] != ids[6]  # (without it the longest row is not first)
    monkeypatch.setattr(sqlite, "RANKED_ROWS", 2)  # no word fits: all of them, as before
    assert store.keyword_search("Mira garden", 50) == everything


def _writer(location: str, worker: int, count: int) -> None:
    store = _backend(location).open("shared", None)
    for i in range(count):
        store.add([item(f"worker {worker} fact {i}", source=f"w{worker}")])


def _backend(location: str):
    from imprint.store.postgres import PostgresDatabase
    from imprint.store.sqlite import SqliteFiles

    return PostgresDatabase(location) if location.startswith("postgresql://") else SqliteFiles(location)


def test_two_processes_writing_at_once_lose_nothing(backend):
    location = getattr(backend, "url", None) or str(backend.data_dir)
    backend.open("shared", None).close()
    workers = [multiprocessing.get_context("spawn").Process(target=_writer, args=(location, w, 40)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    store = backend.open("shared", None)
    assert store.count() == 80
    assert len(store.keyword_search("worker fact", 100)) == 80


def undo_identifier_parts(store: SqliteStore) -> None:
    """The schema and keyword index as they were before identifier parts (migration 9)."""
    store._conn.execute("DROP INDEX raw_items_source_latest")
    store._conn.execute("INSERT INTO keywords (keywords) VALUES ('delete-all')")
    store._conn.execute("INSERT INTO keywords (rowid, text) SELECT id, text FROM chunks WHERE dropped IS NULL")


def undo_filters(store: SqliteStore) -> None:
    """The schema as it was before filters and versions (migration 8)."""
    undo_identifier_parts(store)
    store._conn.execute("DROP TABLE tags")
    store._conn.execute("DROP INDEX chunks_replaced_by")
    store._conn.execute("ALTER TABLE chunks DROP COLUMN replaced_by")


def test_a_file_from_before_identifier_parts_is_reindexed_on_opening(tmp_path):
    store = SqliteStore(tmp_path / "a.sqlite")
    raw, [chunk] = item("def parseConfigFile(path): return load(path)")
    store.add([(raw, [chunk])])
    undo_identifier_parts(store)
    store._conn.execute("PRAGMA user_version=8")
    assert store.keyword_search("config", 5) == []
    store.close()
    reopened = SqliteStore(tmp_path / "a.sqlite")
    assert reopened.keyword_search("config", 5) == [1]
    reopened.delete_memory(1, lambda content, forgotten, kept: content)  # the entry leaves the index whole
    assert reopened.keyword_search("parseConfigFile config", 5) == []
    assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_file_from_before_filters_gets_its_metadata_tagged_on_opening(tmp_path):
    from imprint.filters import Filters

    store = SqliteStore(tmp_path / "a.sqlite")
    for user in ("u1", "u2"):
        raw, [chunk] = item(f"Note of {user}.")
        chunk.metadata = {"user_id": user}
        store.add([(raw, [chunk])])
    undo_filters(store)
    store._conn.execute(f"PRAGMA user_version={TAGS_VERSION - 1}")
    store.close()
    reopened = SqliteStore(tmp_path / "a.sqlite")
    assert reopened.matching(Filters.parse({"user_id": "u2"})).tolist() == [2]


def test_a_file_from_before_subjects_gets_them_on_opening(tmp_path):
    store = SqliteStore(tmp_path / "a.sqlite")
    raw, [chunk] = item("Quillon Varga founded Zorblat Industries.")
    chunk.entities = ["quillon varga", "zorblat industries"]
    store.add([(raw, [chunk])])
    store._conn.execute("ALTER TABLE mentions DROP COLUMN subject")  # as migration 5 left it
    store._conn.execute("INSERT INTO entities (name) VALUES ('quillon varga founded')")  # an older extractor's name
    store._conn.execute("DROP TABLE quarantine")  # added after it
    undo_filters(store)
    store._conn.execute(f"PRAGMA user_version={SUBJECT_VERSION - 1}")
    store.close()
    reopened = SqliteStore(tmp_path / "a.sqlite")
    memories, entities, subject = reopened.mentions()
    names = dict(reopened._conn.execute("SELECT id, name FROM entities"))
    assert {names[e]: bool(s) for e, s in zip(entities, subject)} == {
        "quillon varga": True,
        "zorblat industries": False,
    }
    assert set(names.values()) == {"quillon varga", "zorblat industries"}  # the unmentioned one is gone


def test_building_an_hnsw_index_before_embedding_does_not_crash_the_process(tmp_path):
    """onnxruntime imported after usearch dies with SIGSEGV: a process whose first search builds
    the index (a quality-profile server: torch embeds, then MiniLM reranks) must live on."""
    import subprocess
    import sys

    script = f"""
import numpy as np
from imprint.recall.dense import VectorIndex
from imprint.records import RawItem, Segment
from imprint.store.base import PreparedChunk
from imprint.store.sqlite import SqliteStore
store = SqliteStore({str(tmp_path / "a.sqlite")!r})
rng = np.random.default_rng(0)
rows = []
for i in range(60):
    v = rng.normal(size=16).astype(np.float32)
    rows.append((RawItem(source=f"s{{i}}", kind="text", content=f"m {{i}}", segments=[Segment(f"m {{i}}")]),
                 [PreparedChunk(text=f"m {{i}}", tokens=2, vector=v / np.linalg.norm(v))]))
store.add(rows)
assert VectorIndex(store, ann_min=10).wait_until_built(60)
from imprint.llm.embed import Embedder
print(Embedder().embed(["still alive"]).shape)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(1, 384)" in done.stdout
