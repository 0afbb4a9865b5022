import json

import pytest

from imprint import InputError, Memory, NotFoundError, Settings
from imprint.records import Replacement, Validity
from imprint.text.supersede import replaced


def test_add_search_list_forget_round_trip(memory):
    [mira] = memory.add("Mira Quenton moved to Tallinn in 2021.", space="alice", source="note-7", time="2021-03-02")
    memory.add("Jonas Berg bakes bread in Riga.", space="alice", source="note-8")
    memory.add("The weather was grey all week.", space="alice", source="note-9")
    hits = memory.search("Where does Mira live now?", space="alice", k=2)
    assert hits[0].memory.id == mira and hits[0].memory.time == "2021-03-02"
    assert [m.id for m in memory.list_memories("alice")][0] == mira
    assert memory.raw(mira, "alice").content == "Mira Quenton moved to Tallinn in 2021."
    memory.forget(mira, "alice")
    assert mira not in [h.memory.id for h in memory.search("Mira Tallinn", space="alice", k=3)]
    assert memory.count("alice") == 2


def test_dense_side_finds_a_paraphrase_with_no_shared_words(memory):
    memory.add("The physician relocated to the Estonian capital.", space="s")
    memory.add("A bakery sells rye bread.", space="s")
    [hit] = memory.search("doctor moved Tallinn", space="s", k=1)
    assert "physician" in hit.memory.text and hit.keyword_rank is None and hit.dense_rank == 1


def test_spaces_are_kept_apart(memory):
    memory.add("Alice's secret is the blue door.", space="alice")
    memory.add("Bob likes trains.", space="bob")
    assert all("secret" not in h.memory.text for h in memory.search("secret blue door", space="bob", k=5))
    assert memory.spaces() == ["alice", "bob"]


def test_conversation_turns_become_memories_with_speaker_and_time(memory):
    ids = memory.add_turns(
        [
            {"speaker": "Ana", "text": "I adopted a cat named Pixel.", "time": "2023-05-01"},
            {"role": "user", "content": "Nice!"},
        ],
        space="chat",
        source="chat-1",
    )
    first = memory.get(ids[0], "chat")
    assert first.text == "Ana: I adopted a cat named Pixel." and first.speaker == "Ana" and first.time == "2023-05-01"


def test_adding_the_same_folder_twice_stores_it_once(memory, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("Mira lives in Tallinn.")
    (tmp_path / "notes" / "b.txt").write_bytes("café crème".encode("latin-1"))
    first = memory.add_paths([tmp_path / "notes"], "s")
    second = memory.add_paths([tmp_path / "notes"], "s")
    assert (first.added, first.duplicates, len(first.errors)) == (1, 0, 1)
    assert (second.added, second.duplicates) == (0, 1) and second.memories == first.memories
    assert memory.count("s") == 1


def test_a_long_document_is_chunked_under_the_embedder_window(memory):
    text = " ".join(f"Fact {i}: item {i} is stored in box {i * 7}." for i in range(200))
    ids = memory.add(text, space="s")
    assert len(ids) > 5
    assert all(m.tokens <= memory.settings.chunk_tokens for m in memory.list_memories("s", limit=500))
    assert "box 1379" in memory.search("Where is item 197 stored?", "s", k=3)[0].memory.text


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda m: m.add("   ", space="s"), "empty"),
        (lambda m: m.add("x", space="../etc"), "bad space name"),
        (lambda m: m.search("", space="s"), "empty query"),
        (lambda m: m.ask("q", space="s", strategy="telepathy"), "unknown strategy"),
    ],
)
def test_bad_input_gets_a_clear_error_and_loses_nothing(memory, call, message):
    memory.add("kept", space="s")
    with pytest.raises(InputError, match=message):
        call(memory)
    assert [m.text for m in memory.list_memories("s")] == ["kept"]


def test_unknown_space_and_memory(memory):
    with pytest.raises(NotFoundError):
        memory.search("anything", space="nobody")
    memory.add("x", space="s")
    with pytest.raises(NotFoundError):
        memory.forget(999, "s")


def test_context_packing_respects_the_budget_most_relevant_first(tmp_path, embedder, model):
    settings = Settings(data_dir=tmp_path, context_tokens=400)
    memory = Memory(settings=settings, embedder=embedder, model=model)
    for i in range(60):
        memory.add(f"Locker {i} holds a {['red', 'green', 'blue'][i % 3]} umbrella and {i} coins.", space="s")
    target = memory.add("Mira Quenton keeps her passport in locker 77.", space="s")[0]
    question = "Where does Mira Quenton keep her passport?"
    packed = memory.pack_context(question, "s")
    assert packed[0].id == target
    assert 0 < len(packed) < 61
    from imprint.prompt import answer_prompt

    assert model.count_tokens(answer_prompt(packed, question)) <= 400 - settings.answer_tokens


def test_forgetting_one_memory_of_a_document_redacts_it_from_the_kept_raw_item(tmp_path, embedder, model):
    memory = Memory(
        settings=Settings(data_dir=tmp_path / "data", chunk_tokens=24, chunk_overlap=0), embedder=embedder, model=model
    )
    document = tmp_path / "notes.pdf.txt"
    document.write_text(
        "Mira moved to Tallinn in 2019 to work at the harbour office.\n\n"
        "Her brother Osk keeps a secret bakery in Riga that nobody knows about.\n\n"
        "In winter Mira skates on the frozen bay every Sunday morning."
    )
    report = memory.add_paths([document], space="s")
    assert len(report.memories) == 3
    secret = next(m for m in report.memories if "bakery" in memory.get(m, "s").text)
    memory.forget(secret, "s")
    survivor = next(m for m in report.memories if m != secret)
    raw = memory.raw(survivor, "s")
    assert "bakery" not in raw.content and "Osk" not in raw.content and "[forgotten]" in raw.content
    assert "Tallinn" in raw.content and "skates" in raw.content
    assert raw.original is None  # the file bytes held the secret too
    memory.close()


def test_forgetting_one_turn_redacts_it_from_the_stored_conversation(memory):
    ids = memory.add_turns(
        [
            {"speaker": "Ana", "text": "My PIN is 4471, don't tell anyone."},
            {"speaker": "Ben", "text": "Noted. Lunch on Friday?"},
        ],
        space="chat",
    )
    memory.forget(ids[0], "chat")
    raw = memory.raw(ids[1], "chat")
    assert "4471" not in raw.content and "Lunch on Friday" in raw.content
    assert json.loads(raw.content)[0]["text"] == "[forgotten]"


def test_greetings_filler_and_repeats_are_kept_raw_but_not_indexed(memory):
    ids = memory.add_turns(
        [
            {"speaker": "Ana", "text": "Hi!"},
            {"speaker": "Ben", "text": "Hey, how are you?"},
            {"speaker": "Ana", "text": "I adopted a cat named Pixel."},
            {"speaker": "Ben", "text": "Haha, nice!"},
        ],
        space="chat",
    )
    again = memory.add_turns(
        [{"speaker": "Ana", "text": "I adopted a cat named Pixel!"}], space="chat", source="chat-2"
    )
    different = memory.add_turns(
        [{"speaker": "Ana", "text": "I adopted a cat named Pixie."}], space="chat", source="chat-3"
    )  # one letter apart: another fact, however close the vectors
    assert memory.count("chat") == 2
    dropped = {m.id: m.dropped for m in memory.dropped("chat")}
    assert set(dropped) == {ids[0], ids[1], ids[3], again[0]}
    assert dropped[ids[0]].startswith("low information") and dropped[again[0]].startswith(f"repeats memory {ids[2]}")
    assert {h.memory.id for h in memory.search("hello how are you", "chat", k=5)} == {ids[2], different[0]}
    assert "Hi!" in memory.raw(ids[2], "chat").content  # raw keeps everything
    memory.forget(ids[2], "chat")  # the conversation stays, with the other turns, after a forget
    assert memory.count("chat") == 1 and {m.id for m in memory.dropped("chat")} == {ids[0], ids[1], ids[3]}


def test_a_repeat_merges_into_one_memory_with_both_sources(memory):
    [first] = memory.add("Zorblat Industries was founded by Mira Okafor in 1987.", "s", source="wiki.txt")
    [again] = memory.add("Zorblat Industries was founded by Mira Okafor in 1987!", "s", source="notes.txt")
    assert memory.count("s") == 1 and memory.get(first, "s").also_from == ["notes.txt"]
    assert memory.get(again, "s").repeat_of == first

    forgotten = memory.forget_source("wiki.txt", "s")  # the other source still says it: it stays
    assert forgotten.memory_ids == [first] and memory.count("s") == 1
    [kept] = memory.search("who founded Zorblat", "s", k=1)
    assert kept.memory.id == again and kept.memory.source == "notes.txt" and kept.memory.dropped is None
    assert memory.search("Okafor", "s", k=1)[0].memory.id == again  # keyword index too


def test_forgetting_a_memory_forgets_its_repeats_from_other_sources(memory):
    [first] = memory.add("My locker code is 8812 at the gym.", "s", source="a.txt")
    [again] = memory.add("My locker code is 8812 at the gym!", "s", source="b.txt")
    forgotten = memory.forget(first, "s")
    assert forgotten.memory_ids == [first, again]
    assert memory.count("s") == 0 and memory.dropped("s") == []
    with pytest.raises(NotFoundError):
        memory.raw(again, "s")


def test_the_information_bar_can_be_turned_off(tmp_path, embedder, model):
    memory = Memory(
        settings=Settings(data_dir=tmp_path, min_information=0, duplicate_similarity=1.01),
        embedder=embedder,
        model=model,
    )
    memory.add_turns([{"speaker": "Ana", "text": "Hi!"}, {"speaker": "Ben", "text": "Hi!"}], space="s")
    assert memory.count("s") == 2 and memory.dropped("s") == []


def test_a_newer_statement_replaces_the_older_sentence_and_keeps_the_rest(memory):
    [old] = memory.add("Kalo Rabri works as a baker at Tensu Labs. Kalo Rabri lives in Vosuville.", space="w")
    [move] = memory.add("In 2021, Kalo Rabri moved from Vosuville to Tenstad.", space="w", time="2021-06-01")
    [other] = memory.add("Mira Osk lives in Vosuville.", space="w")  # another subject: untouched
    [train] = memory.add("The night train runs from Paris to Rome.", space="w")  # a route, not a change
    store = memory.space("w").store
    assert (
        memory.as_of(store.get([train]), "Where does the night train start?", "w")[0].text
        == "The night train runs from Paris to Rome."
    )
    assert store.replaced_sentences([old, move, other]) == {
        old: [Replacement("Kalo Rabri lives in Vosuville.", "Kalo Rabri lives in Tenstad.", move, "2021-06-01")]
    }
    question = "Where does Kalo Rabri live now?"
    now = {m.id: m.text for m in memory.as_of(store.get([old, move, other]), question, "w")}
    assert now[old] == "Kalo Rabri works as a baker at Tensu Labs. Kalo Rabri lives in Tenstad."
    assert now[move] == "In 2021, Kalo Rabri moved to Tenstad." and now[other] == "Mira Osk lives in Vosuville."
    past = memory.as_of(store.get([old]), "Where did Kalo Rabri live before?", "w")
    assert "lives in Vosuville" in past[0].text  # history is kept, and shown when the question asks for it
    answer = memory.ask(question, "w", strategy="index")
    assert "Tenstad" in answer.text
    memory.forget(move, "w")  # the newer statement is gone: the older one is current again
    assert store.replaced_sentences([old]) == {}


def test_a_colleague_at_the_same_place_replaces_nothing():
    colleague, earlier = (
        "At Ulfalo Works, Suko Brihael has a job as a carpenter.",
        "At Ulfalo Works, Ruti Eldemo has a job as a carpenter.",
    )
    assert replaced(colleague, earlier) == []  # about Suko, not about Ulfalo Works
    moved_job = "At Tensu Labs, Ruti Eldemo has a job as a carpenter."
    assert replaced(moved_job, earlier) == [(earlier, moved_job)]


def test_each_sentence_holds_until_replaced_and_a_dated_question_sees_that_day(memory):
    [old] = memory.add(
        "Kalo Rabri works as a baker at Tensu Labs. Kalo Rabri lives in Vosuville.", space="w", time="2018-03-01"
    )
    [move] = memory.add("In 2021, Kalo Rabri moved from Vosuville to Tenstad.", space="w", time="2021-06-01")
    assert memory.validity(old, "w") == [
        Validity("Kalo Rabri works as a baker at Tensu Labs.", "2018-03-01"),
        Validity("Kalo Rabri lives in Vosuville.", "2018-03-01", "2021-06-01", move, "Kalo Rabri lives in Tenstad."),
    ]
    assert memory.validity(move, "w") == [
        Validity("In 2021, Kalo Rabri moved from Vosuville to Tenstad.", "2021-06-01")
    ]
    store = memory.space("w").store
    then = {m.id: m.text for m in memory.as_of(store.get([old, move]), "Where did Kalo Rabri live in 2019?", "w")}
    assert "lives in Vosuville" in then[old] and "from Vosuville to Tenstad" in then[move]
    later = {m.id: m.text for m in memory.as_of(store.get([old, move]), "Where did Kalo live in May 2022?", "w")}
    assert "lives in Tenstad" in later[old] and later[move] == "In 2021, Kalo Rabri moved to Tenstad."
    assert "Vosuville" in memory.ask("Where did Kalo Rabri live in 2019?", "w", strategy="index").text


def test_the_consolidation_policy_takes_memories_stable_and_used_enough(tiny):
    ids = [
        tiny.add(text, "s")
        for text in (
            "Ada Lovelace lives in Turin.",
            "Omar Haddad plays the oud.",
            "The Velvet Comet is a Norwegian ferry.",
        )
    ]
    [turin], [oud], [ferry] = ids
    tiny.ask("Where does Ada Lovelace live?", "s", strategy="index", k=1)
    assert tiny.get(turin, "s").uses == 1 and tiny.get(oud, "s").uses == 0
    assert tiny.stable_memories("s") == [turin, oud, ferry]  # defaults: everything
    assert tiny.stable_memories("s", min_uses=1) == [turin]
    assert tiny.stable_memories("s", stable_days=1) == []  # all added just now

    store = tiny.space("s").store  # age two memories; a fresh one changes the first
    store._conn.execute("UPDATE chunks SET added_at = '2020-01-01T00:00:00+00:00' WHERE id IN (?, ?)", (turin, oud))
    tiny.add("Ada Lovelace moved from Turin to Oslo.", "s")
    assert tiny.stable_memories("s", stable_days=30) == [oud]


@pytest.mark.parametrize(
    "older, newer, now",
    [
        (
            "Ilse Varga lives in Debrecen and teaches chemistry.",
            "Ilse Varga moved to Szeged two weeks ago.",
            "Ilse Varga lives in Szeged and teaches chemistry.",
        ),
        (
            "Hana Sato works at Midori Foods as an accountant.",
            "Hana Sato now works at Kaze Robotics.",
            "Hana Sato works at Kaze Robotics as an accountant.",
        ),
        ("Nadia Haddad has a blue car.", "Nadia Haddad sold her car in April.", "Nadia Haddad sold her car in April."),
        (
            "Yusuf Demir is a teacher at Ankara College.",
            "Yusuf Demir is no longer a teacher.",
            "Yusuf Demir is no longer a teacher.",
        ),
        (
            "Rosa Lindqvist goes by Rosa Lind at work.",
            "Rosa Lindqvist changed her name to Rosa Ek.",
            "Rosa Lindqvist goes by Rosa Ek at work.",
        ),
    ],
)
def test_updates_said_the_way_people_say_them_replace_what_they_update(older, newer, now):
    assert replaced(newer, older) == [(older, now)]


@pytest.mark.parametrize(
    "older, newer",
    [
        ("Ilse Varga lives in Debrecen.", "Ilse Varga visited Szeged."),
        ("Ilse Varga lives in Debrecen.", "Jonas Berg moved to Szeged."),  # another person
        ("Nadia Haddad has a blue car.", "Nadia Haddad sold her bike."),  # another thing
        ("Jonas Berg works for Nordvik Shipping.", "Jonas Berg joined Ana for dinner."),
    ],
)
def test_look_alike_sentences_replace_nothing(older, newer):
    assert replaced(newer, older) == []


def test_a_question_about_now_gets_the_moved_to_city(memory):
    memory.add("Ilse Varga lives in Debrecen and teaches chemistry.", space="s", time="2020-03-01")
    memory.add("Ilse Varga moved to Szeged two weeks ago.", space="s", time="2025-03-01")
    answer = memory.ask("Which city does Ilse Varga live in now?", "s", strategy="index")
    assert "Szeged" in answer.text and "Debrecen" not in answer.text
