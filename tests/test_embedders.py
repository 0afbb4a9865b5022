"""A space keeps the embedder its vectors came from: another one is refused with a message that
names the fix, and `reindex` moves the space to it, resumably. The second embedder is real: the
packaged MiniLM read by sentence-transformers with a fixed random projection to 64 dimensions, saved
as a model folder (what IMPRINT_EMBEDDER takes)."""

import sqlite3

import numpy as np
import pytest
import torch

from imprint import Memory, Settings
from imprint.errors import InputError
from imprint.llm.choose import choose_embedder
from imprint.llm.embed import packaged_model_dir
from imprint.llm.sentence import SentenceEmbedder

FACTS = [f"Person {n} lives in city number {n} and works as a baker." for n in range(150)]


@pytest.fixture(scope="module")
def projected(tmp_path_factory) -> SentenceEmbedder:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    folder = tmp_path_factory.mktemp("projected")
    torch.manual_seed(0)
    base = SentenceTransformer(str(packaged_model_dir()), device="cpu", local_files_only=True)
    dense = Dense(384, 64, bias=False, activation_function=torch.nn.Identity())
    SentenceTransformer(modules=[*base, dense, Normalize()], device="cpu").save(str(folder))
    return choose_embedder(Settings(embedder=str(folder), min_evidence=0.1))


@pytest.fixture
def space(tmp_path, embedder, model):
    memory = Memory(tmp_path / "data", embedder=embedder, model=model)
    memory.add_turns([{"speaker": "Ana", "text": fact} for fact in FACTS], space="a")
    memory.add("Mira Quenton moved to Tallinn in 2021.", space="a", source="mira")
    yield memory
    memory.close()


def test_another_embedder_is_refused_with_the_fix_named(space, projected, model, tmp_path):
    other = Memory(tmp_path / "data", embedder=projected, model=model)
    for attempt in (
        lambda: other.search("Where does Mira live?", space="a"),
        lambda: other.add("Ana has a cat.", space="a"),
    ):
        with pytest.raises(
            InputError,
            match=r"embedded with all-MiniLM-L6-v2 \(384 dimensions\); the configured "
            r"embedder is projected.*\(64 dimensions\).*imprint reindex --space a",
        ):
            attempt()
    assert space.search("Where does Mira live?", space="a")[0].memory.source == "mira"  # untouched
    record = other.space("a").store.embedder_record()
    assert (record.name, record.dimensions) == ("all-MiniLM-L6-v2", 384)


def test_reindex_is_resumable_and_switches_the_space_in_one_step(space, projected, model, tmp_path):
    other = Memory(tmp_path / "data", embedder=projected, model=model)
    total = other.space("a").store.reindex_counts()[1]

    def stop_after_first_batch(done, total):
        raise KeyboardInterrupt  # a reindex stopped by the user after one committed batch

    with pytest.raises(KeyboardInterrupt):
        other.reindex("a", stop_after_first_batch)
    staged, _ = other.space("a").store.reindex_counts()
    assert 0 < staged < total
    assert space.search("Where does Mira live?", space="a")[0].memory.source == "mira"  # the old vectors still serve
    space.forget_source("mira", space="a")  # forgotten meanwhile: its staged vector (if any) goes too
    space.add("Mira Quenton moved to Riga in 2024.", space="a", source="mira-2")  # added meanwhile, old embedder

    report = other.reindex("a")
    assert report.switched and report.embedded == total - staged  # the stopped run's batch was kept
    store = other.space("a").store
    record = store.embedder_record()
    assert (record.name, record.dimensions, store.reindex_counts()) == (projected.name, 64, (0, total))
    ids, vectors = store.vectors_after(0)
    texts = {chunk.id: chunk.text for chunk in store.get([int(i) for i in ids])}
    assert "Mira Quenton moved to Tallinn in 2021." not in texts.values()
    assert np.allclose(vectors, projected.embed([texts[int(i)] for i in ids]), atol=1e-5)
    assert other.search("Where does Mira Quenton live now?", space="a")[0].memory.source == "mira-2"
    with pytest.raises(InputError, match="imprint reindex"):
        space.search("Where does Mira live?", space="a")  # now MiniLM is the other one
    assert not other.reindex("a").switched  # nothing to do


def test_a_space_from_before_the_record_is_taken_as_minilm(space, tmp_path, embedder, model):
    space.close()
    with sqlite3.connect(tmp_path / "data" / "a.sqlite") as conn:  # undo the migration, as a file from before it
        conn.executescript(
            "DELETE FROM meta WHERE key = 'embedder'; DROP TABLE staged_vectors; DROP TRIGGER "
            "vectors_unstage_delete; DROP TRIGGER vectors_unstage_move; PRAGMA user_version = 9;"
        )
    reopened = Memory(tmp_path / "data", embedder=embedder, model=model)
    record = reopened.space("a").store.embedder_record()
    assert (record.name, record.dimensions, record.fingerprint) == ("all-MiniLM-L6-v2", 384, None)
    assert reopened.search("Where does Mira live?", space="a")[0].memory.source == "mira"
    reopened.close()


def test_a_turn_is_keyed_with_the_turn_before_it_and_reindex_keys_it_the_same(space, projected, model, tmp_path):
    with_context = SentenceEmbedder(projected.folder, projected.name, 0.1, context_weight=0.5)
    assert with_context.count_tokens("Do you still go fishing?") < 10  # not the file's padded length
    turns = [
        {"speaker": "Ana", "text": "Do you still go fishing with your brother?"},
        {"speaker": "Ben", "text": "Yes, every Sunday at the lake near the mill."},
        {"speaker": "Ana", "text": "That sounds like a lovely way to spend a morning off."},
    ]
    space.add_turns(turns, space="b")
    moved = Memory(tmp_path / "data", embedder=with_context, model=model)
    assert moved.reindex("b").switched
    direct = Memory(tmp_path / "direct", embedder=with_context, model=model)
    direct.add_turns(turns, space="b")
    ids, reindexed = moved.space("b").store.vectors_after(0)
    _, ingested = direct.space("b").store.vectors_after(0)
    assert np.allclose(reindexed, ingested, atol=1e-5)
    texts = [chunk.text for chunk in moved.space("b").store.get([int(i) for i in ids])]
    plain = with_context.embed(texts)
    keyed = plain[1] + 0.5 * plain[0]
    assert np.allclose(ingested[1], keyed / np.linalg.norm(keyed), atol=1e-5)  # the second turn holds the first
    assert np.allclose(ingested[0], plain[0], atol=1e-5)  # the first has none before it
    moved.close(), direct.close()
