"""Sources with a life: an edited file added again replaces what it said; update and history; a
source named the way `list` prints it."""

import pytest

from imprint import InputError, NotFoundError


def test_an_edited_file_added_again_replaces_its_old_memory_and_keeps_history(memory, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    team = notes / "team.md"
    team.write_text("Ana leads the platform team.\n\nThe team meets on Tuesdays at ten.")
    [first] = memory.add_paths([team], "s").memories
    team.write_text("Ana leads the platform team.\n\nThe team meets on Thursdays at nine.")
    [second] = memory.add_paths([team], "s").memories
    assert [m.id for m in memory.list_memories("s")] == [second]
    found = [h.memory.text for h in memory.search("when does the team meet", "s", k=5)]
    assert found == [memory.get(second, "s").text] and "Tuesdays" not in found[0]
    history = memory.history(second, "s")
    assert [m.id for m in history] == [first, second] and history[0].replaced_by == second
    assert "Tuesdays" in history[0].text and history[0].dropped == f"replaced by memory {second}"
    assert memory.add_paths([team], "s").duplicates == 1  # unchanged: nothing new, nothing replaced
    assert memory.count("s") == 1
    same = memory.get(second, "s").text
    assert memory.update(second, same + "\n", "s") == [second]  # its own text again: nothing is retired
    assert [h.memory.id for h in memory.search("when does the team meet", "s", k=5)] == [second]


def test_update_replaces_a_memory_and_forget_takes_every_version(memory):
    [old] = memory.add("Ilse Varga lives in Debrecen.", space="s", source="note-7", metadata={"user_id": "u1"})
    [new] = memory.update(old, "Ilse Varga lives in Szeged.", "s")
    assert new != old and memory.get(new, "s").source == "note-7"
    assert memory.get(new, "s").metadata["user_id"] == "u1"  # metadata carries over
    assert [h.memory.id for h in memory.search("Where does Ilse live?", "s", k=5)] == [new]
    assert [m.text for m in memory.history(old, "s")] == [
        "Ilse Varga lives in Debrecen.",
        "Ilse Varga lives in Szeged.",
    ]
    with pytest.raises(InputError, match="replaced by memory"):
        memory.update(old, "Ilse Varga lives in Pécs.", "s")
    with pytest.raises(InputError, match="empty"):
        memory.update(new, "  ", "s")
    assert memory.update(new, "Ilse Varga lives in Szeged.", "s") == [new]  # the same text: nothing changes
    gone = memory.forget(new, "s")
    assert set(gone.memory_ids) == {old, new}
    with pytest.raises(NotFoundError):
        memory.history(old, "s")


def test_a_source_is_named_the_way_list_prints_it(memory, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "team.md").write_text(f"Team {folder} meets on Mondays.")
    (tmp_path / "a" / "solo.md").write_text("Mira keeps bees.")
    memory.add_paths([tmp_path / "a", tmp_path / "b"], "s")
    assert len(memory.forget_source("solo.md", "s").memory_ids) == 1
    with pytest.raises(InputError, match="names 2 sources"):
        memory.forget_source("team.md", "s")
    assert len(memory.forget_source("b/team.md", "s").memory_ids) == 1
    with pytest.raises(NotFoundError, match="no source"):
        memory.forget_source("b/team.md", "s")
    assert [m.text for m in memory.list_memories("s")] == ["Team a meets on Mondays."]


def check_updates_back_and_to_another_memorys_text(memory) -> None:
    """Back to an earlier text: one live version, the history whole. To another live memory's text:
    refused, naming it (retired for it, the memory would go when that one is forgotten)."""
    [first] = memory.add("The hint is orange kettle.", space="s", source="api")
    [second] = memory.update(first, "The hint is purple lamp.", "s")
    [third] = memory.update(second, "The hint is orange kettle.", "s")
    assert [m.id for m in memory.list_memories("s")] == [third]
    assert [m.text for m in memory.history(third, "s")] == [
        "The hint is orange kettle.",
        "The hint is purple lamp.",
        "The hint is orange kettle.",
    ]
    assert memory.search("hint", "s", k=5)[0].memory.id == third
    [fourth] = memory.update(third, "The hint is green door.", "s")  # later updates go on working
    [other] = memory.add("Tomas keeps the spare key.", space="s", source="api")
    with pytest.raises(InputError, match=f"memory {other} already says this"):
        memory.update(fourth, "Tomas keeps the spare key.", "s")
    memory.forget(other, "s")
    assert [m.id for m in memory.list_memories("s")] == [fourth]


def test_an_update_back_to_an_earlier_text_leaves_one_live_version(memory):
    check_updates_back_and_to_another_memorys_text(memory)
