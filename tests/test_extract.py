"""Statements from conversation turns: relative dates resolved, raw kept, forgetting redacts the turn;
a teacher's rewrites kept only when grounded."""

import json
from datetime import date

import pytest

from imprint import Memory, Settings
from imprint.text.dates import (
    named_day,
    parse_time,
    resolve_relative_dates,
    strip_resolved_dates,
)
from imprint.text.extract import grounded, turn_statement
from imprint.text.sentences import without_speaker

SAID = "1:56 pm on 8 May, 2023"  # a Monday, in LoCoMo's format


def test_relative_dates_are_resolved_against_the_day_they_were_said():
    monday = parse_time(SAID)
    assert monday == date(2023, 5, 8) and parse_time("2023-05-08T13:56:00") == monday
    assert parse_time("Monday afternoon") is None and parse_time("not a time") is None and parse_time(None) is None
    cases = {
        "I went to a support group yesterday.": "yesterday [7 May 2023]",
        "We ran a charity race last Sunday!": "last Sunday [7 May 2023]",
        "See you next Friday.": "next Friday [12 May 2023]",
        "I gave a talk last week.": "last week [the week before 8 May 2023]",
        "We go camping next month.": "next month [June 2023]",
        "My 18th birthday was 10 years ago.": "10 years ago [2013]",
        "I painted it last year, and the day before yesterday I sold it.": (
            "last year [2022], and the day before yesterday [6 May 2023]"
        ),
        "Two weeks ago we met.": "Two weeks ago [the week of 24 April 2023]",
    }
    for said, expected in cases.items():
        resolved = resolve_relative_dates(said, monday)
        assert expected in resolved, resolved
        assert strip_resolved_dates(resolved) == said
    assert resolve_relative_dates("We met recently, a while ago.", monday) == "We met recently, a while ago."


TURNS = [
    {
        "speaker": "Caroline",
        "text": "Hi! Wow! I went to a LGBTQ support group yesterday and it was so powerful.",
        "time": SAID,
    },
    {
        "speaker": "Melanie",
        "text": "Wow! Thanks, Caroline. I ran a charity race for mental health last Sunday.",
        "time": SAID,
    },
]


def test_a_turn_is_remembered_as_its_statement_and_kept_raw_as_said(memory):
    first, second = memory.add_turns(TURNS, space="chat")
    statement = memory.get(first, "chat")
    assert statement.text == (
        "Caroline: Hi! Wow! I went to a LGBTQ support group yesterday [7 May 2023] and it was so powerful."
    )
    assert statement.speaker == "Caroline" and statement.time == SAID
    assert memory.get(second, "chat").text == (
        "Melanie: Wow! Thanks, Caroline. I ran a charity race for mental health last Sunday [7 May 2023]."
    )
    assert json.loads(memory.raw(first, "chat").content) == TURNS  # the raw conversation as it came
    store = memory.space("chat").store
    assert set(store.keyword_search("2023", 5)) == {first, second}  # the dates are searchable words now


def test_without_extraction_turns_are_indexed_as_said(tmp_path, embedder, model):
    memory = Memory(settings=Settings(data_dir=tmp_path / "data", extract="off"), embedder=embedder, model=model)
    first, _ = memory.add_turns(TURNS, space="chat")
    assert memory.get(first, "chat").text == f"Caroline: {TURNS[0]['text']}"
    memory.close()


def test_forgetting_a_statement_redacts_its_whole_turn_and_only_that_turn(memory):
    first, second = memory.add_turns(TURNS, space="chat")
    memory.forget(first, "chat")
    turns = json.loads(memory.raw(second, "chat").content)
    assert "support group" not in turns[0]["text"] and "yesterday" not in turns[0]["text"]
    assert "Hi!" not in turns[0]["text"]  # ("Wow!" stays: the other turn's memory says it too)
    assert turns[1] == TURNS[1]  # the other turn, its "Wow!" included, is untouched


def test_a_fact_is_grounded_when_the_message_holds_its_names_and_numbers():
    said = "Caroline I went to a LGBTQ support group yesterday [7 May 2023] and it was so powerful."
    assert grounded("Caroline went to a LGBTQ support group on 7 May 2023.", said)
    assert not grounded("Caroline Haddad went to a support group.", said)  # a name it never said
    assert not grounded("Caroline went to a support group on 9 May 2023.", said)  # a number it never said
    assert not grounded("Caroline was there.", said)  # says too little of it


@pytest.mark.slow
def test_a_teacher_rewrites_turns_and_only_grounded_facts_become_memories(tmp_path, embedder, model):
    """The packaged 270M model as the teacher: it copies its prompt's example (Linden Hospital,
    Quito) into most answers; none of that may reach a memory, and forgetting still redacts."""
    memory = Memory(
        settings=Settings(data_dir=tmp_path / "data", extract="teacher", teacher="local"),
        embedder=embedder,
        model=model,
    )
    ids = memory.add_turns(TURNS, space="chat")
    for memory_id, turn in zip(ids, TURNS):
        stored = memory.get(memory_id, "chat")
        statement = turn_statement(turn["text"], turn["time"])
        assert "linden" not in stored.text.lower() and "quito" not in stored.text.lower()
        if "said" in stored.metadata:  # the teacher's facts: made from the statement, each grounded
            assert stored.metadata["said"] == statement
            assert grounded(without_speaker(stored.text, stored.speaker), f"{turn['speaker']} {statement}")
        else:  # nothing grounded was written: the model-free statement
            assert stored.text == f"{turn['speaker']}: {statement}"
    memory.forget(ids[0], "chat")
    assert "support group" not in memory.raw(ids[1], "chat").content
    memory.close()


def test_the_day_a_question_names():
    assert named_day("Where did Kalo Rabri live in 2019?") == date(2019, 1, 1)
    assert named_day("What did Caroline do on 8 May, 2023?") == date(2023, 5, 8)
    assert named_day("Where was she in May 2022?") == date(2022, 5, 1)
    assert named_day("What happened on 2023-05-08?") == date(2023, 5, 8)
    assert named_day("Where does Kalo live now?") is None and named_day("Who lives at 1234 Main St?") is None
    assert named_day("Who scored 2000 points?") is None
