"""Encryption at rest and physical deletion: the bytes on disk are checked, not the API."""

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from imprint import Memory, Settings
from imprint.cli import app
from imprint.errors import EncryptionError
from imprint.store.crypto import new_master_key

SECRET = "Zorblat Industries was founded by Quillon Varga in Tallinn in 1987."
WORDS = ["Zorblat", "Quillon", "Varga", "Tallinn", "founded", "1987"]


def store_bytes(data_dir: Path) -> bytes:
    """Everything the space's files hold on disk (database, WAL, shared memory)."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("*.sqlite*")))


def encrypted_memory(tmp_path: Path, embedder, model, key: str) -> Memory:
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir(exist_ok=True)
    key_file.write_text(key)
    return Memory(settings=Settings(data_dir=tmp_path / "data", key_file=key_file), embedder=embedder, model=model)


@pytest.mark.slow
def test_encrypted_space_holds_no_plaintext_and_still_answers(tmp_path, embedder, model):
    memory = encrypted_memory(tmp_path, embedder, model, new_master_key())
    [memory_id] = memory.add(SECRET, space="vault", source="notes/founders.txt")
    memory.add("Mira keeps bees on her roof in Riga.", space="vault")
    note = tmp_path / "diary.md"
    note.write_text("# Diary\n\nQuillon Varga likes cold harbours.")
    memory.add_paths([note], space="vault")

    hits = memory.search("Who founded Zorblat?", space="vault", k=1)
    assert hits[0].memory.id == memory_id and hits[0].keyword_rank == 1  # the blind keyword index works
    assert memory.get(memory_id, "vault").source == "notes/founders.txt"
    answer = memory.ask("Who founded Zorblat Industries?", space="vault")
    assert "Quillon" in answer.text
    vector = embedder.embed([SECRET])[0].astype(np.float32).tobytes()
    memory.close()

    on_disk = store_bytes(tmp_path / "data")
    for word in WORDS + ["Mira", "Riga", "harbours", "founders.txt"]:
        assert word.encode() not in on_disk and word.lower().encode() not in on_disk, word
    assert vector[:16] not in on_disk  # not even a prefix of the raw embedding

    reopened = encrypted_memory(tmp_path, embedder, model, (tmp_path / "keys" / "master.key").read_text())
    assert reopened.raw(memory_id, "vault").content == SECRET
    reopened.forget_source("notes/founders.txt", "vault")
    assert reopened.search("Zorblat Quillon", space="vault", k=5)[0].memory.id != memory_id
    reopened.close()


def test_wrong_or_missing_key_is_a_clear_error_and_loses_nothing(tmp_path, embedder, model):
    memory = encrypted_memory(tmp_path, embedder, model, new_master_key())
    memory.add(SECRET, space="vault")
    memory.close()
    before = store_bytes(tmp_path / "data")

    with pytest.raises(EncryptionError, match="wrong key for space 'vault'"):
        encrypted_memory(tmp_path, embedder, model, new_master_key()).count("vault")
    with pytest.raises(EncryptionError, match="is encrypted: set IMPRINT_KEY_FILE"):
        Memory(tmp_path / "data", embedder=embedder, model=model).count("vault")
    assert store_bytes(tmp_path / "data") == before

    plain = Memory(tmp_path / "plain", embedder=embedder, model=model)
    plain.add("an unencrypted note", space="open")
    plain.close()
    keyed = Memory(settings=Settings(data_dir=tmp_path / "plain", key=new_master_key()), embedder=embedder, model=model)
    with pytest.raises(EncryptionError, match="created without encryption"):
        keyed.count("open")


def test_key_file_inside_the_data_folder_or_malformed_is_refused(tmp_path, embedder, model):
    (tmp_path / "data").mkdir()
    inside = tmp_path / "data" / "master.key"
    inside.write_text(new_master_key())
    with pytest.raises(EncryptionError, match="inside the data directory"):
        Memory(settings=Settings(data_dir=tmp_path / "data", key_file=inside), embedder=embedder, model=model)
    with pytest.raises(EncryptionError, match="base64 32-byte key"):
        Memory(settings=Settings(data_dir=tmp_path / "data", key="too short"), embedder=embedder, model=model)


def test_tampered_ciphertext_is_detected(tmp_path, embedder, model):
    memory = encrypted_memory(tmp_path, embedder, model, new_master_key())
    [memory_id] = memory.add(SECRET, space="vault")
    memory.close()
    with sqlite3.connect(tmp_path / "data" / "vault.sqlite") as db:
        blob = bytearray(db.execute("SELECT text FROM chunks WHERE id = ?", (memory_id,)).fetchone()[0])
        blob[-1] ^= 1
        db.execute("UPDATE chunks SET text = ? WHERE id = ?", (bytes(blob), memory_id))
    reopened = encrypted_memory(tmp_path, embedder, model, (tmp_path / "keys" / "master.key").read_text())
    with pytest.raises(EncryptionError, match="does not authenticate"):
        reopened.get(memory_id, "vault")


def test_forgotten_text_leaves_the_files(tmp_path, embedder, model):
    """Without encryption too: secure_delete, a merged keyword index and a truncated WAL."""
    memory = Memory(tmp_path / "data", embedder=embedder, model=model)
    for n in range(5):  # neighbours on the same pages, so a freed row's bytes are not trivially overwritten
        memory.add(f"Filler note number {n} about the weather in spring.", space="s")
    [forgotten] = memory.add(SECRET, space="s")
    memory.add("Mira keeps bees on her roof in Riga.", space="s")
    assert b"Quillon" in store_bytes(tmp_path / "data")
    memory.forget(forgotten, "s")
    on_disk = store_bytes(tmp_path / "data")
    for word in WORDS:
        assert word.encode() not in on_disk and word.lower().encode() not in on_disk, word
    assert b"bees" in on_disk  # the rest is still there
    assert memory.search("bees", space="s")[0].memory.text == "Mira keeps bees on her roof in Riga."
    memory.close()


def test_keygen_writes_a_private_key_and_never_overwrites(tmp_path):
    runner = CliRunner()
    key = tmp_path / "master.key"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    assert os.stat(key).st_mode & 0o777 == 0o600
    first = key.read_text()
    again = runner.invoke(app, ["keygen", str(key)])
    assert again.exit_code == 1 and "never overwrites" in again.output
    assert key.read_text() == first


def test_a_space_file_copied_under_another_name_does_not_open_as_that_space(tmp_path, embedder, model):
    import shutil

    key = new_master_key()
    memory = encrypted_memory(tmp_path, embedder, model, key)
    memory.add("The vault code of Ormond Keep is 4711.", "e2")
    memory.close()
    shutil.copy(tmp_path / "data" / "e2.sqlite", tmp_path / "data" / "e3.sqlite")
    memory = encrypted_memory(tmp_path, embedder, model, key)
    with pytest.raises(EncryptionError, match="copy of another space"):
        memory.list_memories("e3")
    assert "4711" in memory.list_memories("e2")[0].text
    memory.close()
