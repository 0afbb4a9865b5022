"""Regression suite of the adversarial pass: each case once lost data, crashed, or let an attack in."""

import json
import os
import threading
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from imprint import Memory
from imprint.errors import InputError, NotFoundError, ParseError
from imprint.serve.auth import Keys


def test_forgetting_a_space_deletes_only_its_own_files(memory, tmp_path):
    memory.add("Alice keeps her notes here.", "alice")
    memory.add("The archive holds the 2019 tax papers.", "alice.sqlite-archive")  # a name alice's glob matched
    memory.forget_space("alice")
    assert memory.spaces() == ["alice.sqlite-archive"]
    assert "tax papers" in memory.list_memories("alice.sqlite-archive")[0].text


def test_a_space_forgotten_by_another_process_is_gone_here_too(tmp_path, embedder, model):
    server, other = Memory(tmp_path, embedder=embedder, model=model), Memory(tmp_path, embedder=embedder, model=model)
    server.add("Mira's locker code is 4411.", "victim")
    other.forget_space("victim")
    with pytest.raises(NotFoundError):
        server.list_memories("victim")
    server.add("A new note after the deletion.", "victim")  # a fresh space, not the unlinked file
    assert [m.text for m in other.list_memories("victim")] == ["A new note after the deletion."]


def test_a_space_name_with_a_trailing_newline_is_refused(memory):
    with pytest.raises(InputError, match="bad space name"):
        memory.add("text", "alice\n")


def test_one_bad_file_is_named_and_the_rest_is_ingested(memory, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Ana has a parrot named Kiwi.")
    (folder / "odd16.txt").write_bytes(b"\xff\xfe" + "hi".encode("utf-16-le") + b"\x00")  # odd length after a BOM
    (folder / "bad8.txt").write_bytes(b"\xef\xbb\xbfok \xff\xfe broken")  # bad UTF-8 after a BOM
    (folder / "deep.json").write_text("[" * 100_000)
    (folder / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.txt")
    report = memory.add_paths([folder], "s")
    assert report.added == 1 and "Kiwi" in memory.list_memories("s")[0].text
    named = {str(e.path).rsplit("/", 1)[-1] for e in report.errors}
    assert {"odd16.txt", "bad8.txt", "deep.json"} <= named  # devices and FIFOs are skipped while walking
    for path in ("zero.txt", "pipe.txt"):  # named directly: refused, never read
        assert "not a regular file" in str(memory.add_paths([folder / path], "s").errors[0])


def test_a_turn_nested_too_deeply_is_refused_and_the_space_still_lists(memory):
    memory.add("The space exists.", "s")
    deep: object = "leaf"
    for _ in range(900):
        deep = {"x": deep}
    with pytest.raises(ParseError, match="nested"):
        memory.add_turns([{"speaker": "a", "text": "hello there friend", "extra": deep}], "s")
    with pytest.raises(ParseError, match="bytes as JSON"):
        memory.add("big metadata", "s", metadata={"blob": "x" * 100_000})
    assert len(memory.list_memories("s")) == 1 and memory.search("space", "s")


def test_adding_the_same_files_again_counts_duplicates_not_dropped(memory, tmp_path):
    chat = tmp_path / "chat.json"
    chat.write_text(
        json.dumps(
            [
                {"speaker": "A", "text": f"I planted {n} tomato seedlings in the garden."}
                for n in ("three", "three", "five")
            ]
        )
    )
    first = memory.add_paths([chat], "s")
    again = memory.add_paths([chat], "s")
    assert first.added == 1 and first.dropped == 1 and first.indexed == 2  # the second turn repeats the first
    assert (again.added, again.duplicates, again.dropped, again.indexed) == (0, 1, 0, 0)


def test_the_cli_prints_stored_text_literally(tmp_path):
    from imprint.cli import app

    text = "TODO [urgent] ship before [b]Friday[/b] [/quote] [bold red]loud[/bold red]"
    Memory(tmp_path).add(text, "s")
    for command in (["list"], ["search", "ship Friday"], ["show", "1"]):
        result = CliRunner().invoke(app, [*command, "--space", "s", "--data", str(tmp_path)], terminal_width=300)
        assert result.exit_code == 0, result.output
        flat = " ".join(result.output.split())
        assert "[urgent]" in flat and "[b]Friday[/b]" in flat and "[/quote]" in flat, flat


@pytest.mark.parametrize(
    "grants", [{"": ["*"]}, {"stdio": ["*"]}, {"short-key": ["a"]}, {" padded-key-0123456789 ": ["a"]}]
)
def test_empty_short_or_padded_keys_are_refused_at_load(tmp_path, grants):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": grants}))
    with pytest.raises(InputError, match="shorter than 16"):
        Keys.load(path)


def test_an_empty_key_header_matches_nothing(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {"k-0123456789abcdef": ["a"]}}))
    keys = Keys.load(path)
    assert keys.caller("Bearer ", "") is None and keys.caller(None, None) is None


def test_concurrent_writers_in_threads_lose_nothing(memory):
    memory.add("seed", "s")

    def write(n: int) -> None:
        for i in range(5):
            memory.add(f"Worker {n} wrote note number {i} about topic {n * 10 + i}.", "s")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert memory.count("s") == 21


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=300) | st.sampled_from(["..", ".", "a/../../etc/passwd", "c:\\x\\..\\y.txt", "\x00"]))
def test_any_upload_name_is_a_plain_file_name_or_refused(name):
    from imprint.serve.rest import upload_name

    try:
        cleaned = upload_name(name)
    except InputError as error:
        assert "bad upload file name" in str(error)
        return
    assert cleaned.strip() not in ("", ".", "..") and "/" not in cleaned and "\\" not in cleaned
    assert len(cleaned) <= 255 and not any(unicodedata.category(c).startswith("C") for c in cleaned)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, wrap=st.integers(0, 40))
def test_metadata_is_stored_shape_checked_or_refused_never_half_way(value, wrap):
    from imprint.encode.parse import MAX_METADATA_BYTES, MAX_NESTING, check_json_shape

    for _ in range(wrap):
        value = [value]

    def depth(v) -> int:
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        return 0 if children is None else 1 + max(map(depth, children), default=0)

    too_deep = depth(value) > MAX_NESTING
    too_big = len(json.dumps(value).encode()) > MAX_METADATA_BYTES
    if too_deep or too_big:
        with pytest.raises(ParseError, match="nested|bytes as JSON"):
            check_json_shape(value, "m")
    else:
        check_json_shape(value, "m")


def test_sync_and_add_of_a_folder_never_follow_a_link_out_of_it(memory, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "vault.txt").write_text("The vault code of Ormond Keep is 4711.")
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "bees.md").write_text("Mira Quenton keeps bees in Riga.")
    (repo / "passwd.txt").symlink_to(outside / "vault.txt")
    (repo / "elsewhere").symlink_to(outside, target_is_directory=True)
    (repo / "docs-again").symlink_to(repo / "docs", target_is_directory=True)
    (repo / "alias.md").symlink_to(repo / "docs" / "bees.md")  # a link inside the folder is read
    synced = memory.sync(repo, "s")
    reasons = {s.path.name: s.reason for s in synced.skipped}
    assert reasons["passwd.txt"] == "link outside the folder"
    assert reasons["elsewhere"] == "folder: link outside the folder"
    assert reasons["docs-again"] == "folder: link to a folder inside it (read where it is)"
    added = memory.add_paths([repo], "t")
    assert {s.path.name for s in added.skipped} >= {"passwd.txt", "elsewhere"}
    for space in ("s", "t"):
        assert "Riga" in memory.search("bees", space, k=1)[0].memory.text
        assert not any("4711" in m.text for m in memory.list_memories(space, 50, 0))
    (repo / "alias.md").unlink()  # what the root held and no longer does is forgotten
    assert memory.sync(repo, "s").gone == [str(repo.resolve() / "alias.md")]


def test_names_with_control_characters_are_printed_escaped(tmp_path):
    from imprint.cli import app

    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "evil\x1b[31mred.md").write_text("Mira Quenton keeps bees in Riga.")
    data = ["--data", str(tmp_path / "data"), "--space", "s"]
    for argv in (["sync", str(folder), *data], ["list", *data], ["search", "bees", *data]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0 and "\x1b" not in result.output, (argv, result.output)
    assert "\\x1b[31mred.md" in CliRunner().invoke(app, ["list", *data]).output


@pytest.mark.parametrize(
    "name, text",
    [
        ("keys.json", '{"turns": [{"speaker": "a", "text": "\\u0041KIAIOSFODNN7EXAMPLE is mine"}]}'),
        ("key.json", '{"turns": [{"speaker": "a", "text": "\\u002D----BEGIN RSA PRIVATE KEY-----"}]}'),
        ("aws.txt", "the deploy user\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
        ("db.md", "connect with postgresql://app:hunter22@db.internal/prod"),
        ("Credentials.json", '{"a": 1}'),
    ],
)
def test_secrets_in_escaped_or_other_forms_are_refused_and_nothing_is_stored(memory, tmp_path, name, text):
    (tmp_path / name).write_text(text)
    report = memory.add_paths([tmp_path / name], "s")
    assert report.errors and "refused" in str(report.errors[0]) and report.added == 0


def test_a_git_hash_on_its_own_line_is_not_a_secret(memory, tmp_path):
    (tmp_path / "log.txt").write_text("The release commit was\n3f786850e387550fdab836ed7e6dc881de23001b\n")
    assert memory.add_paths([tmp_path / "log.txt"], "s").added == 1


def test_sources_that_no_path_can_be_are_not_found_or_refused_not_a_crash(memory):
    memory.add("Something.", space="s", source="note")
    with pytest.raises(NotFoundError):
        memory.forget_source("~nosuchuser", "s")
    with pytest.raises(InputError, match="NUL"):
        memory.forget_source("a\x00b", "s")
    with pytest.raises(InputError, match="NUL"):
        memory.search("something", "s", filters={"source": "a\x00b"})
