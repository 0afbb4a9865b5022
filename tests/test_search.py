"""Hybrid search prefers the memories of a subject the question names (a turn's speaker)."""


def test_a_question_naming_a_speaker_prefers_that_speakers_own_turns(memory):
    memory.add_turns(
        [
            {"speaker": "Caroline", "text": "Melanie, you always relax so well, I wish I could relax like you."},
            {"speaker": "Melanie", "text": "I go running by the river on weekends to unwind."},
            {"speaker": "Caroline", "text": "I spent the afternoon painting a sunset for the adoption agency."},
            {"speaker": "Melanie", "text": "My kids loved the dinosaur exhibit at the museum."},
        ],
        space="chat",
    )
    hits = memory.search("How does Melanie relax?", space="chat", k=4)
    assert hits[0].memory.speaker == "Melanie" and "running" in hits[0].memory.text
    # a name that is no one's subject changes nothing: the words decide
    hits = memory.search("Who wishes they could relax like that?", space="chat", k=1)
    assert hits[0].memory.speaker == "Caroline"


def test_late_interaction_reranks_the_pool_and_scores_what_holds_the_question_words(memory):
    from imprint.recall.rerank import late_interaction, maxsim, reranked

    question = "Where did Melanie go camping?"
    camping, painting = memory.embedder.token_vectors(
        ["Melanie: We went camping at the beach last summer.", "Caroline: I love painting sunsets by the lake."]
    )
    [asked] = memory.embedder.token_vectors([question])
    assert maxsim(asked, camping) > maxsim(asked, painting)
    memory.add_turns(
        [
            {"speaker": "Melanie" if n % 2 else "Caroline", "text": text}
            for n, text in enumerate(
                [
                    "I love painting sunsets by the lake.",
                    "We went camping at the beach last summer.",
                    "The kids roasted marshmallows all night.",
                    "My pottery class starts on Monday.",
                    "I read Charlotte's Web again.",
                    "We hiked up to the waterfall in the mountains.",
                ]
            )
        ],
        space="chat",
    )
    pool = memory.search(question, "chat", k=6)
    top = reranked(question, pool, [late_interaction(memory.embedder.token_vectors)], k=3)
    assert len(top) == 3 and {h.memory.id for h in top} <= {h.memory.id for h in pool}
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
    assert "camping" in top[0].memory.text
    # search with rerank: the fused pool reranked, then each hit's neighbours credited (with_neighbours)
    from imprint.recall.search import hybrid_search, with_neighbours

    space = memory.space("chat")
    fused = hybrid_search(space.store, space.vectors, question, memory.embedder.embed_query, 6)
    expected = with_neighbours(space.store, reranked(question, fused, memory._answering.scorers, 6), 3)
    assert [h.memory.id for h in memory.search(question, "chat", k=3, rerank=True)] == [h.memory.id for h in expected]


def test_the_question_is_embedded_while_the_keyword_search_runs_and_its_errors_reach_the_caller(memory):
    import threading

    import pytest

    from imprint.errors import ModelError
    from imprint.recall.search import hybrid_search

    memory.add("Mira Quenton moved to Tallinn in 2021.", space="s")
    space = memory.space("s")
    embedding_started = threading.Event()
    real_keyword_search = space.store.keyword_search

    def keyword_search(*args, **kwargs):  # done one after the other, the embedding would come after this
        assert embedding_started.wait(5), "the question's embedding waited for the keyword search"
        return real_keyword_search(*args, **kwargs)

    def embed_query(text):
        embedding_started.set()
        return memory.embedder.embed_query(text)

    space.store.keyword_search = keyword_search
    hits = hybrid_search(space.store, space.vectors, "Where did Mira move?", embed_query, k=1)
    assert "Tallinn" in hits[0].memory.text and hits[0].dense_rank == 1

    def broken(text):
        raise ModelError("the embedder is gone")

    with pytest.raises(ModelError, match="gone"):
        hybrid_search(space.store, space.vectors, "Where did Mira move?", broken, k=1)


def test_the_turn_after_a_match_is_found_with_it(memory):
    """A reply that only makes sense after its question ranks near the question that matches."""
    from imprint.recall.search import NEIGHBOUR_WEIGHT, with_neighbours

    ids = memory.add_turns(
        [
            {"speaker": "Caroline", "text": "I went to a transgender poetry reading last night."},
            {"speaker": "Melanie", "text": "Wow, did your sister come along with you?"},
            {"speaker": "Caroline", "text": "People shared their stories of finding themselves."},
            {"speaker": "Melanie", "text": "My kids loved the dinosaur exhibit at the museum."},
        ],
        space="chat",
    )
    space = memory.space("chat")
    assert space.store.neighbours([ids[0], ids[2]]) == {ids[0]: [ids[1]], ids[2]: [ids[1], ids[3]]}
    hits = memory.search("What was the poetry reading about?", "chat", k=4)
    plain = memory.search("What was the poetry reading about?", "chat", k=4, filters={"speaker": "Caroline"})
    assert {h.memory.speaker for h in plain} == {"Caroline"}  # a neighbour that fails the filter stays out
    top = hits[0]
    assert top.memory.id == ids[0]
    credited = with_neighbours(space.store, [top], 2)
    assert [h.memory.id for h in credited] == [ids[0], ids[1]]
    assert credited[1].score == NEIGHBOUR_WEIGHT * top.score and credited[1].keyword_rank is None
