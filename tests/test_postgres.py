"""The Postgres store end to end on a real server: the same Memory API as on SQLite, several
processes on one database, spaces kept apart by the database itself, encryption at rest."""

import json

import psycopg
import pytest
from typer.testing import CliRunner

from imprint import Memory, Settings
from imprint.cli import app
from imprint.errors import InputError, NotFoundError
from imprint.store.crypto import new_master_key
from imprint.store.postgres import PostgresDatabase

SECRET = "Zorblat Industries was founded by Quillon Varga in Tallinn in 1987."


def on_postgres(tmp_path, url, embedder, model, **settings) -> Memory:
    return Memory(settings=Settings(data_dir=tmp_path / "data", store=url, **settings), embedder=embedder, model=model)


def test_memories_round_trip_through_postgres(tmp_path, postgres_url, embedder, model):
    memory = on_postgres(tmp_path, postgres_url, embedder, model)
    [fact] = memory.add("Mira moved to Tallinn in 2021 to build boats.", space="alice", source="notes.md")
    memory.add_turns([{"speaker": "Mira", "text": "I keep bees on the roof of my workshop.", "time": "2024-05-01"},
                      {"speaker": "Jon", "text": "Do they ever sting the customers?", "time": "2024-05-01"}],
                     space="alice", source="chat")
    assert memory.search("Where does Mira live?", "alice", k=1)[0].memory.id == fact
    assert memory.search("insects on the roof", "alice", k=1)[0].memory.speaker == "Mira"  # dense side
    [newer] = memory.update(fact, "Mira moved to Riga in 2024 to build boats.", "alice")
    assert [m.text for m in memory.history(newer, "alice")][0].startswith("Mira moved to Tallinn")
    assert memory.search("Riga boats", "alice", k=1)[0].memory.id == newer
    by_speaker = memory.search("roof", "alice", k=5, filters={"speaker": "Jon"})
    assert by_speaker == [] or all(hit.memory.speaker == "Jon" for hit in by_speaker)
    memory.forget(newer, "alice")
    assert all(hit.memory.id not in (fact, newer) for hit in memory.search("Mira boats Riga Tallinn", "alice", k=5))
    assert memory.summary("alice").memories == 2
    memory.close()

    again = on_postgres(tmp_path, postgres_url, embedder, model)  # a second process sees what was stored
    assert again.spaces() == ["alice"] and again.count("alice") == 2
    again.forget_space("alice")
    assert again.spaces() == []
    again.close()


def test_another_server_sees_writes_and_a_deleted_space(tmp_path, postgres_url, embedder, model):
    first, second = (on_postgres(tmp_path / name, postgres_url, embedder, model) for name in ("a", "b"))
    [memory_id] = first.add("The harbour crane was repainted orange in March.", space="team")
    assert second.search("what colour is the crane", "team", k=1)[0].memory.id == memory_id
    second.add("The ferry to Helsinki leaves at seven.", space="team")
    assert first.count("team") == 2
    first.forget_space("team")
    with pytest.raises(NotFoundError):
        second.search("ferry", "team")
    first.close()
    second.close()


def test_the_database_keeps_spaces_apart_whatever_the_sql(tmp_path, postgres_url, embedder, model):
    memory = on_postgres(tmp_path, postgres_url, embedder, model)
    memory.add("Bob cycles to the office.", space="bob")
    memory.add("Bob's sister lives in Oslo.", space="bob")
    [bobs] = memory.add("Bob's locker code is 4471.", space="bob")  # ids count per space: alice has no 3
    memory.add("Alice waters the ferns on Fridays.", space="alice")
    # every API, asked in alice's space about bob's memory, finds nothing
    assert all("4471" not in hit.memory.text for hit in memory.search("locker code 4471", "alice", k=10))
    assert all("4471" not in m.text for m in memory.list_memories("alice", limit=100))
    for call in (lambda: memory.get(bobs, "alice"), lambda: memory.forget(bobs, "alice"),
                 lambda: memory.raw(bobs, "alice"), lambda: memory.history(bobs, "alice")):
        with pytest.raises(NotFoundError):
            call()
    assert memory.get(bobs, "bob").text == "Bob's locker code is 4471."  # still there
    # below the API: alice's connection runs SQL with no space in it, and row-level security holds
    store = memory.space("alice").store
    assert store._conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1
    assert store._conn.execute("UPDATE chunks SET uses = uses + 1").rowcount == 1
    assert store._conn.execute("DELETE FROM raw_items WHERE id = ?", (bobs,)).rowcount == 0
    assert memory.get(bobs, "bob").text == "Bob's locker code is 4471."
    bob_space = memory.space("bob").store.space_id
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # writing a row into bob's space
        store._conn.execute("INSERT INTO meta (space, key, value) VALUES (?, 'x', 'y')", (bob_space,))
    memory.close()


def test_a_role_that_bypasses_row_security_is_refused(postgres_server):
    superuser = f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres"
    with pytest.raises(InputError, match="bypasses row-level security"):
        PostgresDatabase(superuser)


def test_an_encrypted_space_leaves_no_plaintext_in_the_database(tmp_path, postgres_url, postgres_server,
                                                                  embedder, model):
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(new_master_key())
    memory = on_postgres(tmp_path, postgres_url, embedder, model, key_file=key_file)
    [memory_id] = memory.add(SECRET, space="vault", source="notes/founders.txt", metadata={"team": "ops"})
    hit = memory.search("Who founded Zorblat?", "vault", k=1)[0]
    assert hit.memory.id == memory_id and hit.keyword_rank == 1  # the blind keyword index works in Postgres
    assert memory.search("founders", "vault", k=1, filters={"team": "ops"})[0].memory.id == memory_id
    memory.close()
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.admin(database) as conn:  # the superuser reads every row of every table
        dump = "\n".join(str(row) for table in ("raw_items", "chunks", "vectors", "keywords", "meta", "entities",
                                                "tags", "superseded")
                         for row in conn.execute(f"SELECT * FROM {table}"))
    for word in ["Zorblat", "Quillon", "Varga", "Tallinn", "founders.txt", "ops"]:
        assert word not in dump and word.lower() not in dump, word
    reopened = on_postgres(tmp_path, postgres_url, embedder, model, key_file=key_file)
    assert reopened.raw(memory_id, "vault").content == SECRET
    reopened.close()


def test_a_data_folder_migrates_with_its_ids_encryption_and_history(tmp_path, postgres_url, embedder, model):
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(new_master_key())
    local = Memory(settings=Settings(data_dir=tmp_path / "data", key_file=key_file), embedder=embedder, model=model)
    [older] = local.add("Mira moved to Tallinn in 2021.", space="vault", metadata={"team": "ops"})
    [newer] = local.update(older, "Mira moved to Riga in 2024.", "vault")
    local.add_turns([{"speaker": "Jon", "text": "Quillon Varga founded Zorblat in 1987."}], space="vault")
    local.add("An open note about ferns.", space="plain")
    expected = {name: [(m.id, m.text, m.speaker) for m in local.list_memories(name, limit=100)]
                for name in ("vault", "plain")}
    hits = [h.memory.id for h in local.search("Who founded Zorblat?", "vault", k=3)]
    local.close()

    result = CliRunner().invoke(app, ["migrate", "--to", postgres_url, "--data", str(tmp_path / "data"), "--json"],
                                env={"IMPRINT_KEY_FILE": str(key_file)})
    assert result.exit_code == 0, result.output
    assert {m["space"]: m["memories"] for m in json.loads(result.stdout)} == {"plain": 1, "vault": 2}

    shared = on_postgres(tmp_path, postgres_url, embedder, model, key_file=key_file)
    for name, memories in expected.items():
        assert [(m.id, m.text, m.speaker) for m in shared.list_memories(name, limit=100)] == memories
    assert [h.memory.id for h in shared.search("Who founded Zorblat?", "vault", k=3)] == hits
    assert [m.id for m in shared.history(newer, "vault")] == [older, newer]
    assert shared.search("Mira", "vault", k=3, filters={"team": "ops"})[0].memory.id == newer
    [added] = shared.add("A new fact after the move.", space="vault")
    assert added > newer  # ids go on from where the folder stopped
    shared.close()
    again = CliRunner().invoke(app, ["migrate", "--to", postgres_url, "--data", str(tmp_path / "data"), "--json"],
                               env={"IMPRINT_KEY_FILE": str(key_file)})
    assert all(m["skipped"] for m in json.loads(again.stdout))  # never merged into what is there
