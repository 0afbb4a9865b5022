"""Hybrid search prefers the memories of a subject the question names (a turn's speaker)."""


def test_a_question_naming_a_speaker_prefers_that_speakers_own_turns(memory):
    memory.add_turns([
        {"speaker": "Caroline", "text": "Melanie, you always relax so well, I wish I could relax like you."},
        {"speaker": "Melanie", "text": "I go running by the river on weekends to unwind."},
        {"speaker": "Caroline", "text": "I spent the afternoon painting a sunset for the adoption agency."},
        {"speaker": "Melanie", "text": "My kids loved the dinosaur exhibit at the museum."},
    ], space="chat")
    hits = memory.search("How does Melanie relax?", space="chat", k=4)
    assert hits[0].memory.speaker == "Melanie" and "running" in hits[0].memory.text
    # a name that is no one's subject changes nothing: the words decide
    hits = memory.search("Who wishes they could relax like that?", space="chat", k=1)
    assert hits[0].memory.speaker == "Caroline"


def test_late_interaction_reranks_the_pool_and_scores_what_holds_the_question_words(memory):
    from imprint.recall.rerank import maxsim, reranked

    question = "Where did Melanie go camping?"
    camping, painting = memory.embedder.token_vectors(
        ["Melanie: We went camping at the beach last summer.", "Caroline: I love painting sunsets by the lake."])
    [asked] = memory.embedder.token_vectors([question])
    assert maxsim(asked, camping) > maxsim(asked, painting)
    memory.add_turns([{"speaker": "Melanie" if n % 2 else "Caroline", "text": text} for n, text in enumerate([
        "I love painting sunsets by the lake.", "We went camping at the beach last summer.",
        "The kids roasted marshmallows all night.", "My pottery class starts on Monday.",
        "I read Charlotte's Web again.", "We hiked up to the waterfall in the mountains."])], space="chat")
    pool = memory.search(question, "chat", k=6)
    top = reranked(question, pool, memory.embedder.token_vectors, k=3)
    assert len(top) == 3 and {h.memory.id for h in top} <= {h.memory.id for h in pool}
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
    assert "camping" in top[0].memory.text
    assert [h.memory.id for h in memory.search(question, "chat", k=3, rerank=True)] == [h.memory.id for h in top]
