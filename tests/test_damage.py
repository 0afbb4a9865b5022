"""Tampering and damage in an encrypted space: detected, named, and contained to the rows it hit."""

import sqlite3

import pytest
from test_encryption import encrypted_memory
from typer.testing import CliRunner

from imprint.cli import app
from imprint.errors import EncryptionError
from imprint.store.crypto import new_master_key

NOTES = [
    "Mira keeps bees on her roof in Riga.",
    "Jonas bakes rye bread on Sundays.",
    "Ana's parrot Kiwi speaks three words.",
    "The robotics club meets on Thursdays.",
]


@pytest.fixture
def vault(tmp_path, embedder, model):
    memory = encrypted_memory(tmp_path, embedder, model, new_master_key())
    ids = [memory.add(note, "vault")[0] for note in NOTES]
    memory.close()
    return tmp_path, ids


def reopen(tmp_path, embedder, model):
    return encrypted_memory(tmp_path, embedder, model, (tmp_path / "keys" / "master.key").read_text())


def edit(tmp_path, sql: str, *args) -> None:
    with sqlite3.connect(tmp_path / "data" / "vault.sqlite") as db:
        db.execute(sql, args)


def test_a_sealed_text_moved_to_another_row_does_not_authenticate(vault, embedder, model):
    tmp_path, (a, b, *_) = vault
    with sqlite3.connect(tmp_path / "data" / "vault.sqlite") as db:
        text_a, text_b = (db.execute("SELECT text FROM chunks WHERE id = ?", (i,)).fetchone()[0] for i in (a, b))
        db.execute("UPDATE chunks SET text = ? WHERE id = ?", (text_b, a))  # swap two rows' texts
        db.execute("UPDATE chunks SET text = ? WHERE id = ?", (text_a, b))
    memory = reopen(tmp_path, embedder, model)
    for memory_id in (a, b):
        with pytest.raises(EncryptionError, match=f"memory {memory_id} .* is damaged"):
            memory.get(memory_id, "vault")
    assert [m.text for m in memory.list_memories("vault")] == NOTES[2:]  # the rest reads
    report = memory.check("vault")
    assert report.integrity == "ok" and {(d.table, d.row_id) for d in report.damaged} == {("chunks", a), ("chunks", b)}


def test_hiding_a_memory_by_editing_its_dropped_column_is_caught(vault, embedder, model):
    tmp_path, (a, *_) = vault
    edit(tmp_path, "UPDATE chunks SET dropped = 'low information' WHERE id = ?", a)
    memory = reopen(tmp_path, embedder, model)
    assert [d.row_id for d in memory.check("vault").damaged] == [a]


def test_a_flipped_byte_in_a_vector_spares_the_rest_and_forget_still_works(vault, embedder, model):
    tmp_path, (a, b, c, d) = vault
    with sqlite3.connect(tmp_path / "data" / "vault.sqlite") as db:
        blob = bytearray(db.execute("SELECT vector FROM vectors WHERE chunk_id = ?", (b,)).fetchone()[0])
        blob[20] ^= 1
        db.execute("UPDATE vectors SET vector = ? WHERE chunk_id = ?", (bytes(blob), b))
        text = bytearray(db.execute("SELECT text FROM chunks WHERE id = ?", (c,)).fetchone()[0])
        text[-1] ^= 1
        db.execute("UPDATE chunks SET text = ? WHERE id = ?", (bytes(text), c))
    memory = reopen(tmp_path, embedder, model)
    assert "bees" in memory.search("who keeps bees", "vault", k=1)[0].memory.text  # search works
    memory.add("A new note still goes in.", "vault")
    assert memory.forget(c, "vault").memory_ids == [c]  # the unreadable memory can be forgotten
    report = memory.check("vault", repair=True)
    assert [(x.table, x.row_id) for x in report.damaged] == [("vectors", b)] and report.quarantined == 1
    assert memory.check("vault").damaged == []
    hits = {hit.memory.id: hit for hit in memory.search("bakes rye bread", "vault", k=5)}
    assert hits[b].keyword_rank == 1 and hits[b].dense_rank is None  # its vector is gone, its words still find it
    assert len(memory.list_memories("vault")) == 4


def test_imprint_check_reports_and_repairs_from_the_command_line(vault):
    tmp_path, (a, *_) = vault
    edit(tmp_path, "UPDATE chunks SET metadata = x'00' WHERE id = ?", a)
    env = {"IMPRINT_KEY_FILE": str(tmp_path / "keys" / "master.key")}
    args = ["check", "--space", "vault", "--data", str(tmp_path / "data")]
    found = CliRunner().invoke(app, args, env=env)
    assert found.exit_code == 1 and f"chunks row {a}" in found.output, found.output
    repaired = CliRunner().invoke(app, [*args, "--repair"], env=env)
    assert repaired.exit_code == 0 and "quarantined 1" in repaired.output, repaired.output
    assert CliRunner().invoke(app, args, env=env).exit_code == 0


@pytest.mark.parametrize("version", [1, 2])
def test_a_space_sealed_in_an_older_format_still_reads(tmp_path, embedder, model, version):
    """Spaces encrypted before rows (1) or the space's name (2) were bound in keep their format and
    stay readable."""
    from imprint.store.crypto import SpaceCipher, decode_master_key

    key = new_master_key()
    memory = encrypted_memory(tmp_path, embedder, model, key)
    store = memory.space("old", create=True).store
    salt = bytes.fromhex(dict(store._conn.execute("SELECT key, value FROM meta"))["salt"])
    older = SpaceCipher(decode_master_key(key, "the test key"), salt)  # keys derived without the name
    store._conn.execute("UPDATE meta SET value = ? WHERE key = 'encryption'", (f"aes-gcm-v{version}",))
    store._conn.execute("UPDATE meta SET value = ? WHERE key = 'key_check'", (older.check_value(),))
    store._format, store.cipher = version, older  # as a space written by a version of that format
    memory.add("Mira keeps bees on her roof in Riga.", "old")
    memory.close()
    reopened = reopen(tmp_path, embedder, model)
    assert reopened.space("old").store._format == version
    assert "bees" in reopened.search("bees", "old", k=1)[0].memory.text
    assert reopened.check("old").damaged == []


@pytest.mark.parametrize("how", ["id", "source"])
def test_forget_reaches_rows_that_check_repair_quarantined(tmp_path, embedder, model, how):
    from imprint import Memory

    memory = Memory(tmp_path / "data", embedder=embedder, model=model)
    [kept] = memory.add("Jonas bakes rye bread on Sundays.", "plain", source="bread.md")
    [hurt] = memory.add("The vault code of Ormond Keep is 4711.", "plain", source="vault.md")
    memory.close()
    with sqlite3.connect(tmp_path / "data" / "plain.sqlite") as db:
        db.execute("UPDATE chunks SET metadata = '{not json' WHERE id = ?", (hurt,))
    memory = Memory(tmp_path / "data", embedder=embedder, model=model)
    assert memory.check("plain", repair=True).quarantined == 1

    def quarantined() -> list[str]:
        with sqlite3.connect(tmp_path / "data" / "plain.sqlite") as db:
            return [row[0] for row in db.execute("SELECT row FROM quarantine")]

    assert "4711" in quarantined()[0]
    done = memory.forget(hurt, "plain") if how == "id" else memory.forget_source("vault.md", "plain")
    assert hurt in done.memory_ids if how == "id" else done.memory_ids == []
    assert quarantined() == [] and [m.id for m in memory.list_memories("plain")] == [kept]
    with sqlite3.connect(tmp_path / "data" / "plain.sqlite") as db:
        assert not db.execute("SELECT 1 FROM raw_items WHERE source LIKE '%vault%'").fetchone()
    memory.close()
