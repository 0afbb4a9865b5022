"""The entity graph: names extracted, kept in step with the store, and a spread that makes the hop."""

from imprint.text.entities import extract_entities, names_within, question_names


def test_names_are_capitalised_runs_without_sentence_starts():
    found = extract_entities("The Bank of England was founded in 1694 by John Houblon. In 2019, Mira moved to Tallinn.")
    assert found == ["bank of england", "john houblon", "mira", "tallinn"]  # in order: the first is the subject
    assert extract_entities("Demon Dice: Demon Dice is a game by Lester Smith, Inc. (TSR).") == [
        "demon dice",
        "lester smith",
        "inc",
        "tsr",
    ]  # punctuation ends a name
    assert {"zorblat industries", "zorblat"} <= question_names("who founded zorblat industries?")


def test_the_spread_reaches_the_memory_about_a_name_the_first_hop_mentions(memory):
    first = memory.add("Zorblat Industries was founded by Quillon Varga.", space="g")[0]
    second = memory.add("Quillon Varga grew up in a lighthouse near Tallinn.", space="g")[0]
    others = [
        memory.add(text, space="g")[0]
        for text in [
            "Mira Osk repairs clocks in Graz.",
            "The harbour of Riga freezes in winter.",
            "Otto Kranz keeps bees on his roof.",
            "Ilse Varga sells maps in Szeged.",
            "Tallinn has a lighthouse too.",
        ]
    ]
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


def test_months_and_weekdays_are_no_names_and_joined_names_are_also_found_apart():
    assert extract_entities("In May 2005, Nordeman released Brave. On Monday Mira met May Lin.") == [
        "nordeman",
        "brave",
        "mira",
        "may lin",
    ]  # a month alone names no one; "May Lin" may
    assert names_within("It was produced by Trent Reznor of Nine Inch Nails.") == {
        "trent reznor of nine inch nails",
        "trent reznor",
        "nine inch nails",
    }


def _second_hops(memory, space: str) -> tuple[int, int, int]:
    """A passage naming two people, one where the question's relation is, and a passage about each."""
    first = memory.add(
        "Zorblat Industries makes lamps. Quillon Varga founded it in Riga in 1990. Its company logo "
        "was drawn by Ilse Marek.",
        space=space,
    )[0]
    varga = memory.add("Quillon Varga grew up in Tallinn and loved drawing logos.", space=space)[0]
    marek = memory.add("Ilse Marek grew up in Szeged.", space=space)[0]
    for text in [
        "Mira Osk repairs clocks in Graz.",
        "The harbour of Riga freezes in winter.",
        "Otto Kranz keeps bees on his roof.",
        "Tallinn has a lighthouse too.",
    ]:
        memory.add(text, space=space)
    return first, varga, marek


def test_the_second_hop_is_the_name_said_where_the_question_asks(memory):
    """The passage about the company names its founder and the logo's artist; the question asks
    about the logo, so the artist's passage follows it, though the founder's reads closer to the
    question ("drawing logos") and one step over the graph reaches both alike."""
    from imprint.recall import search

    first, varga, marek = _second_hops(memory, "g")
    question = "Where did the person who drew the Zorblat Industries company logo grow up?"
    space = memory.space("g")
    vector = memory.embedder.embed_query(question)
    linked = search.linked_by_sentence(space.store, space.graph, space.vectors, [first], question, vector, 5)
    assert [memory_id for memory_id, _ in linked] == [marek]  # Varga and Riga are named where no word is asked
    assert {h.memory.id for h in memory.search(question, "g", k=2, graph=True)} == {first, marek}
    weight = search.LINKED_WEIGHT
    try:
        search.LINKED_WEIGHT = 0.0
        assert {h.memory.id for h in memory.search(question, "g", k=2, graph=True)} == {first, varga}
    finally:
        search.LINKED_WEIGHT = weight


def test_the_second_hop_is_found_in_an_encrypted_space_where_names_are_stored_as_tags(tmp_path, embedder, model):
    from imprint import Memory, Settings
    from imprint.store.crypto import new_master_key

    with Memory(settings=Settings(data_dir=tmp_path, key=new_master_key()), embedder=embedder, model=model) as memory:
        first, _, marek = _second_hops(memory, "g")
        hits = memory.search(
            "Where did the person who drew the Zorblat Industries company logo grow up?", "g", k=2, graph=True
        )
        assert {h.memory.id for h in hits} == {first, marek}
