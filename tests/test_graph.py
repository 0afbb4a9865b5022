"""The entity graph: names extracted, kept in step with the store, and a walk that makes the hop."""

from imprint.encode.entities import extract_entities, question_names


def test_names_are_capitalised_runs_without_sentence_starts():
    found = set(extract_entities("The Bank of England was founded in 1694 by John Houblon. In 2019, Mira moved to Tallinn."))
    assert found == {"bank of england", "john houblon", "mira", "tallinn"}
    assert {"zorblat industries", "zorblat"} <= question_names("who founded zorblat industries?")


def test_the_walk_reaches_a_memory_that_shares_only_a_name_with_the_first_hop(memory):
    first = memory.add("Zorblat Industries was founded by Quillon Varga.", space="g")[0]
    second = memory.add("Quillon Varga grew up in a lighthouse near Tallinn.", space="g")[0]
    for n, text in enumerate(["Mira Osk repairs clocks in Graz.", "The harbour of Riga freezes in winter.",
                              "Otto Kranz keeps bees on his roof.", "Ilse Varga sells maps in Szeged."]):
        memory.add(text, space="g")
    store, _ = memory._space("g")
    question = "Where was the person behind Zorblat Industries raised?"
    names = store.entities_named(question_names(question))
    assert len(names) == 1  # only "zorblat industries" is a name the space knows
    walked = [memory_id for memory_id, _ in memory._graph("g").rank({next(iter(names)): 1.0}, {}, 3)]
    assert walked == [first, second]  # the hop: through "quillon varga", though it shares no word with the question
    hits = memory.search(question, "g", k=3, graph=True)
    assert {first, second} <= {h.memory.id for h in hits}


def test_forgetting_removes_the_names_no_memory_mentions_any_more(memory):
    kept = memory.add("Quillon Varga lives in Tallinn.", space="g")[0]
    gone = memory.add("Zorblat Industries hired Quillon Varga.", space="g")[0]
    store, _ = memory._space("g")
    assert set(store.entities_named({"zorblat industries", "quillon varga", "tallinn"}).values()) == {1, 2}
    memory.forget(gone, "g")
    left = store.entities_named({"zorblat industries", "quillon varga", "tallinn"})
    assert len(left) == 2 and set(left.values()) == {1}  # zorblat is gone, varga is mentioned once now
    memory.forget(kept, "g")
    assert store._conn.execute("SELECT count(*) FROM entities").fetchone()[0] == 0
