"""The subject focus: which retrieved memories a small reader is shown, and in what order."""

from imprint.answer.focus import focus as focus_on
from imprint.prompt import answer_prompt
from imprint.records import Chunk
from imprint.text.question import parse_question


def focus(memories: list[Chunk], question: str) -> list[Chunk]:
    return focus_on(memories, parse_question(question))


def memory(i: int, text: str, speaker: str | None = None, time: str | None = None) -> Chunk:
    return Chunk(id=i, raw_id=i, source="s", text=text, speaker=speaker, time=time, tokens=10, metadata={}, added_at="")


WORKS = memory(1, "Ada Lovelace works at Vosuvo Industries. Ada Lovelace lives in Turin.")
HQ = memory(2, "Vosuvo Industries has its headquarters in Oslo.")
OTHER = memory(3, "Omar Haddad lives in Cairo.")
TURN = memory(4, "Ben: I loved it there.", speaker="Ben")
MOVE = memory(5, "In 2021, Ada Lovelace moved to Riga.", time="2021-06-01")


def test_memories_about_someone_else_leave_and_one_hop_stays():
    kept = focus([OTHER, WORKS, TURN, HQ], "Where is the head office of the company Ada Lovelace works for?")
    assert [m.id for m in kept] == [WORKS.id, TURN.id, HQ.id]  # about the subject first; turns always stay


def test_nothing_is_dropped_when_no_memory_names_anyone_in_the_question():
    assert focus([OTHER, HQ], "Where is the cat?") == [OTHER, HQ]


def test_a_question_about_now_reads_the_newest_memory_about_the_subject_last():
    assert [m.id for m in focus([WORKS, MOVE], "Where does Ada Lovelace live?")] == [WORKS.id, MOVE.id]
    ordered = focus([WORKS, MOVE], "Where does Ada Lovelace live now?")
    assert [m.id for m in ordered] == [MOVE.id, WORKS.id]
    prompt = answer_prompt(ordered, "Where does Ada Lovelace live now?")
    assert prompt.index("moved to Riga") > prompt.index("lives in Turin")  # written in reverse: newest last
