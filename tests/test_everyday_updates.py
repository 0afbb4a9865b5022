"""Updates said in everyday words (first person in a chat, a pronoun, a first name, "is now based
in", "works as ... at"): 40 pairs written apart from the rules, and look-alikes that must replace
nothing (tests/data/everyday_updates.json)."""

import json
from pathlib import Path

from imprint.text.supersede import replaced

PAIRS = json.loads((Path(__file__).parent / "data" / "everyday_updates.json").read_text())


def _replaces(pair: dict) -> list:
    return replaced(pair["newer"], pair["older"], pair["newer_speaker"], pair["older_speaker"])


def test_at_least_36_of_40_everyday_updates_are_recorded():
    missed = [(p["older"], p["newer"]) for p in PAIRS["updates"] if not _replaces(p)]
    assert len(PAIRS["updates"]) == 40 and len(missed) <= 4, missed


def test_look_alikes_replace_nothing():
    wrong = [(p["older"], p["newer"], _replaces(p)) for p in PAIRS["look_alikes"] if _replaces(p)]
    assert not wrong, wrong


def test_a_first_person_turn_updates_an_older_note_and_add_says_so(memory):
    from imprint.encode.parse import conversation_item

    memory.add("Ana lives in Tallinn and sings in a choir.", space="s", time="2023-01-10")
    turns = [{"speaker": "Ana", "text": "I moved to Riga last month!", "time": "2024-05-02"}]
    assert memory.ingest([conversation_item(turns, "chat")], "s").updates == 1
    [note] = [m for m in memory.list_memories("s") if "Tallinn" in m.text]
    [validity] = [v for v in memory.validity(note.id, "s") if "Tallinn" in v.sentence]
    assert validity.replaced_by is not None and "Riga" in validity.now and "choir" in validity.now


def test_an_undated_note_about_an_earlier_year_does_not_replace_a_later_chat(memory):
    from imprint.encode.parse import conversation_item

    turns = [{"speaker": "Ana", "text": "I moved to Riga last month!", "time": "2024-05-02"}]
    memory.ingest([conversation_item(turns, "chat")], "s")
    assert memory.add("Ana moved to Tallinn in 2021.", space="s", source="note")  # added later, about 2021
    memories = {m.id: m for m in memory.list_memories("s")}
    [note] = [i for i, m in memories.items() if "Tallinn" in m.text]
    [chat] = [i for i, m in memories.items() if "Riga" in m.text]
    [old] = memory.validity(note, "s")
    assert old.valid_from.startswith("2021") and old.replaced_by == chat and "Riga" in old.now
    assert all(v.replaced_by is None for v in memory.validity(chat, "s"))
    # an undated note that names no day is news when it is added: it replaces the chat
    memory.add("Ana moved to Vilnius.", space="s", source="note-2")
    assert any(v.replaced_by is not None for v in memory.validity(chat, "s"))
