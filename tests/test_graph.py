"""The entity graph: names extracted, kept in step with the store, and a spread that makes the hop."""

from imprint.encode.entities import extract_entities, question_names


def test_names_are_capitalised_runs_without_sentence_starts():
    found = extract_entities("The Bank of England was founded in 1694 by John Houblon. In 2019, Mira moved to Tallinn.")
    assert found == ["bank of england", "john houblon", "mira", "tallinn"]  # in order: the first is the subject
    assert extract_entities("Demon Dice: Demon Dice is a game by Lester Smith, Inc. (TSR).") == [
        "demon dice", "lester smith", "inc", "tsr"]  # punctuation ends a name
    assert {"zorblat industries", "zorblat"} <= question_names("who founded zorblat industries?")


def test_the_spread_reaches_the_memory_about_a_name_the_first_hop_mentions(memory):
    first = memory.add("Zorblat Industries was founded by Quillon Varga.", space="g")[0]
    second = memory.add("Quillon Varga grew up in a lighthouse near Tallinn.", space="g")[0]
    others = [memory.add(text, space="g")[0] for text in [
        "Mira Osk repairs clocks in Graz.", "The harbour of Riga freezes in winter.",
        "Otto Kranz keeps bees on his roof.", "Ilse Varga sells maps in Szeged.", "Tallinn has a lighthouse too."]]
    store = memory.space("g").store
    question = "Where was the person behind Zorblat Industries raised?"
    names = store.entities_named(question_names(question))
    assert len(names) == 1  # only "zorblat industries" is a name the space knows
    graph = memory.space("g").graph
    assert set(graph.spread({}, names)) == {first}  # a name leads to the memory it is the subject of
    # from the first hop over the names it mentions to the memories about them: Quillon Varga's,
    # not the one about Tallinn (mentioned by the second hop only) nor Ilse Varga's (another name)
    assert set(graph.spread({first: 1.0}, {})) == {first, second}
    assert graph.spread({second: 1.0}, {}) == {second: 1.0, others[-1]: 1.0}
    hits = memory.search(question, "g", k=2, graph=True)
    assert [h.memory.id for h in hits] == [first, second]
    assert second not in {h.memory.id for h in memory.search(question, "g", k=2)}  # missed without (the default)


def test_forgetting_removes_the_names_no_memory_mentions_any_more(memory):
    kept = memory.add("Quillon Varga lives in Tallinn.", space="g")[0]
    gone = memory.add("Zorblat Industries hired Quillon Varga.", space="g")[0]
    store = memory.space("g").store
    assert set(store.entities_named({"zorblat industries", "quillon varga", "tallinn"}).values()) == {1, 2}
    memory.forget(gone, "g")
    left = store.entities_named({"zorblat industries", "quillon varga", "tallinn"})
    assert len(left) == 2 and set(left.values()) == {1}  # zorblat is gone, varga is mentioned once now
    memory.forget(kept, "g")
    assert store._conn.execute("SELECT count(*) FROM entities").fetchone()[0] == 0
