"""Filters and metadata: three users in one space, filtered in the store, plain and encrypted."""

import pytest

from imprint import InputError, Memory, NotFoundError, Settings
from imprint.store.crypto import new_master_key

USERS = {"u1": "Tallinn", "u2": "Riga", "u3": "Vilnius"}


def fill(memory: Memory) -> None:
    for user, city in USERS.items():
        memory.add(
            f"My favourite city is {city}.",
            space="s",
            metadata={"user_id": user, "team": "blue"},
            time="2024-05-0" + user[-1],
        )
        memory.add(
            f"I keep a diary about {city} trips.",
            space="s",
            metadata={"user_id": user, "agent_id": "a1"},
            time="2025-01-0" + user[-1],
        )


@pytest.fixture(params=["plain", "encrypted"])
def users(request, tmp_path, embedder, model):
    key = new_master_key() if request.param == "encrypted" else None
    memory = Memory(settings=Settings(data_dir=tmp_path / "data", key=key), embedder=embedder, model=model)
    fill(memory)
    yield memory
    memory.close()


def test_a_user_filter_never_shows_another_users_memory(users):
    for user, city in USERS.items():
        others = [c for u, c in USERS.items() if u != user]
        hits = users.search("favourite city diary trips", "s", k=10, filters={"user_id": user})
        texts = " ".join(h.memory.text for h in hits)
        assert len(hits) == 2 and city in texts and not any(o in texts for o in others)
        assert all(h.memory.metadata["user_id"] == user for h in hits)  # metadata comes back out
        listed = users.list_memories("s", filters={"user_id": user})
        assert [m.metadata["user_id"] for m in listed] == [user, user]
        route = users.explain("Which city is my favourite?", "s", filters={"user_id": user})
        assert {m.metadata["user_id"] for m in route.memories} == {user}


def test_sets_several_keys_sources_and_time_ranges(users):
    both = users.search("city", "s", k=10, filters={"user_id": ["u1", "u3"], "team": "blue"})
    assert sorted(h.memory.metadata["user_id"] for h in both) == ["u1", "u3"]
    assert users.search("city", "s", k=10, filters={"user_id": "u9"}) == []
    recent = users.list_memories("s", filters={"since": "2025-01-01"})
    assert len(recent) == 3 and all("diary" in m.text for m in recent)
    day = users.list_memories("s", filters={"since": "2024-05-02", "until": "2024-05-02"})
    assert [m.text for m in day] == ["My favourite city is Riga."]
    assert len(users.list_memories("s", filters={"source": "api"})) == 6
    with pytest.raises(NotFoundError, match="no source 'nowhere'"):
        users.search("city", "s", filters={"source": "nowhere"})


def test_a_filtered_answer_reads_only_that_users_memories(users):
    answer = users.ask("Which city is my favourite?", "s", strategy="index", filters={"user_id": "u2"})
    assert {m.metadata["user_id"] for m in answer.memories} == {"u2"}
    with pytest.raises(InputError, match="cannot be filtered"):
        users.ask("Which city?", "s", strategy="weights", filters={"user_id": "u2"})


@pytest.mark.parametrize("bad", [{"user_id": {"a": 1}}, {"user_id": []}, {"since": "last week"}, {"": "x"}, ["u1"]])
def test_bad_filters_name_what_is_wrong(memory, bad):
    memory.add("Something to find.", space="s")
    with pytest.raises(InputError, match="filter"):
        memory.search("find", "s", filters=bad)


def test_too_many_filter_keys_or_values_are_refused_with_the_limit_named(memory):
    from imprint.filters import MAX_FILTER_KEYS, MAX_FILTER_VALUES

    memory.add("Something to find.", space="s", metadata={"k0": "v"})
    assert memory.search("find", "s", filters={f"k{i}": "v" for i in range(1)})
    with pytest.raises(InputError, match=f"at most {MAX_FILTER_KEYS} keys, not 3000"):
        memory.search("find", "s", filters={f"k{i}": "v" for i in range(3000)})
    with pytest.raises(InputError, match=f"at most {MAX_FILTER_VALUES} values"):
        memory.search("find", "s", filters={"k0": [str(i) for i in range(MAX_FILTER_VALUES + 1)]})
    assert memory.search("find", "s", filters={f"k{i}": "v" for i in range(MAX_FILTER_KEYS)}) == []  # at the limit


def test_numbers_in_filters_compare_by_value_and_non_finite_metadata_is_refused(memory):
    from imprint.errors import ParseError

    memory.add("A measured thing.", space="s", metadata={"n": 3})
    assert memory.search("thing", "s", filters={"n": 3.0}) and memory.search("thing", "s", filters={"n": 3})
    for bad in ({"score": float("nan")}, {"inf": float("inf")}, {"deep": [float("-inf")]}):
        with pytest.raises(ParseError, match="not a finite number"):
            memory.add("Another thing.", space="s", metadata=bad)
    assert memory.count("s") == 1
