"""The Postgres store end to end on a real server: the same Memory API as on SQLite, several
processes on one database, spaces kept apart by the database itself, encryption at rest."""

import json

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from imprint import Memory, Settings
from imprint.cli import app
from imprint.errors import InputError, NotFoundError
from imprint.recall.dense import VectorIndex
from imprint.records import RawItem, Segment
from imprint.store import pg_vectors, postgres
from imprint.store.base import PreparedChunk
from imprint.store.crypto import new_master_key
from imprint.store.pg_vectors import DatabaseVectors
from imprint.store.postgres import PostgresDatabase

SECRET = "Zorblat Industries was founded by Quillon Varga in Tallinn in 1987."


def on_postgres(tmp_path, url, embedder, model, **settings) -> Memory:
    return Memory(settings=Settings(data_dir=tmp_path / "data", store=url, **settings), embedder=embedder, model=model)


def test_a_process_keeps_only_its_recent_spaces_connected_and_reconnects(
    tmp_path, postgres_url, postgres_server, embedder, model
):
    memory = on_postgres(tmp_path, postgres_url, embedder, model, store_connections=2)
    database = postgres_url.rsplit("/", 1)[1]

    def connections() -> int:
        with postgres_server.admin() as admin:
            return admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND usename = 'imprint'", (database,)
            ).fetchone()[0]

    before = connections()  # the database's own connection
    ids = {
        name: memory.add(f"{name.title()} keeps the key to shed number {i}.", space=name)[0]
        for i, name in enumerate(["ana", "ben", "cai", "dov", "eli"])
    }
    assert connections() == before + 2  # five spaces open, two connected
    for name, memory_id in ids.items():  # a released space connects again when used, pinned to its own rows
        assert [hit.memory.id for hit in memory.search(f"{name} shed key", name, k=5)] == [memory_id]
    with postgres_server.admin() as admin:  # the server drops every connection (a restart, a failover)
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    with pytest.raises(psycopg.OperationalError):
        memory.count("eli")  # the statement in flight fails ...
    assert memory.count("eli") == 1  # ... and the next one connects again
    memory.close()


def test_memories_round_trip_through_postgres(tmp_path, postgres_url, embedder, model):
    memory = on_postgres(tmp_path, postgres_url, embedder, model)
    assert isinstance(memory.space("alice", create=True).vectors, DatabaseVectors)
    [fact] = memory.add("Mira moved to Tallinn in 2021 to build boats.", space="alice", source="notes.md")
    memory.add_turns(
        [
            {"speaker": "Mira", "text": "I keep bees on the roof of my workshop.", "time": "2024-05-01"},
            {"speaker": "Jon", "text": "Do they ever sting the customers?", "time": "2024-05-01"},
        ],
        space="alice",
        source="chat",
    )
    assert memory.search("Where does Mira live?", "alice", k=1)[0].memory.id == fact
    assert memory.search("insects on the roof", "alice", k=1)[0].memory.speaker == "Mira"  # dense side
    [newer] = memory.update(fact, "Mira moved to Riga in 2024 to build boats.", "alice")
    assert [m.text for m in memory.history(newer, "alice")][0].startswith("Mira moved to Tallinn")
    assert memory.search("Riga boats", "alice", k=1)[0].memory.id == newer
    by_speaker = memory.search("roof", "alice", k=5, filters={"speaker": "Jon"})
    assert by_speaker == [] or all(hit.memory.speaker == "Jon" for hit in by_speaker)
    [tagged] = memory.add("The ferry to Helsinki leaves at seven.", space="alice", metadata={"team": "ops"})
    assert [h.memory.id for h in memory.search("ferry", "alice", k=5, filters={"team": "ops"})] == [tagged]
    assert memory.search("ferry", "alice", k=5, filters={"team": "sales"}) == []
    with pytest.raises(InputError, match="NUL"):  # Postgres text cannot hold it: refused, nothing half-stored
        memory.add("a text with a \x00 in it", space="alice")
    assert memory.count("alice") == 4
    memory.forget(tagged, "alice")
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
    for call in (
        lambda: memory.get(bobs, "alice"),
        lambda: memory.forget(bobs, "alice"),
        lambda: memory.raw(bobs, "alice"),
        lambda: memory.history(bobs, "alice"),
    ):
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


def test_an_encrypted_space_leaves_no_plaintext_in_the_database(
    tmp_path, postgres_url, postgres_server, embedder, model
):
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(new_master_key())
    memory = on_postgres(tmp_path, postgres_url, embedder, model, key_file=key_file)
    [memory_id] = memory.add(SECRET, space="vault", source="notes/founders.txt", metadata={"team": "ops"})
    hit = memory.search("Who founded Zorblat?", "vault", k=1)[0]
    assert hit.memory.id == memory_id and hit.keyword_rank == 1  # the blind keyword index works in Postgres
    assert memory.search("founders", "vault", k=1, filters={"team": "ops"})[0].memory.id == memory_id
    assert isinstance(memory.space("vault").vectors, VectorIndex)  # sealed vectors are searched in memory
    memory.close()
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.admin(database) as conn:  # the superuser reads every row of every table
        dump = "\n".join(
            str(row)
            for table in ("raw_items", "chunks", "vectors", "keywords", "meta", "entities", "tags", "superseded")
            for row in conn.execute(f"SELECT * FROM {table}")
        )
        assert conn.execute("SELECT count(*) FROM vectors WHERE embedding IS NOT NULL").fetchone()[0] == 0
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
    expected = {
        name: [(m.id, m.text, m.speaker) for m in local.list_memories(name, limit=100)] for name in ("vault", "plain")
    }
    hits = [h.memory.id for h in local.search("Who founded Zorblat?", "vault", k=3)]
    local.close()

    result = CliRunner().invoke(
        app,
        ["migrate", "--to", postgres_url, "--data", str(tmp_path / "data"), "--json"],
        env={"IMPRINT_KEY_FILE": str(key_file)},
    )
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
    again = CliRunner().invoke(
        app,
        ["migrate", "--to", postgres_url, "--data", str(tmp_path / "data"), "--json"],
        env={"IMPRINT_KEY_FILE": str(key_file)},
    )
    assert all(m["skipped"] for m in json.loads(again.stdout))  # never merged into what is there


def test_pgvector_search_agrees_with_the_rows_and_a_large_space_gets_its_own_hnsw_index(
    postgres_url, postgres_server, monkeypatch
):
    from test_store import unit

    def row(i: int):
        raw = RawItem(source=f"s{i}", kind="text", content=f"memory {i}", segments=[Segment(f"memory {i}")])
        return raw, [PreparedChunk(text=f"memory {i}", tokens=2, vector=unit(i, 32))]

    database = PostgresDatabase(postgres_url)
    store, other = database.open("big", None), database.open("small", None)
    other.add([row(i) for i in range(50)])  # another space's rows: never found, never in big's index
    ids = [r.chunk_ids[0] for r in store.add([row(i) for i in range(300)])]
    in_database, in_memory = store.vectors_in_database(), VectorIndex(store)
    for i in range(0, 300, 30):
        found, expected = in_database.search(unit(i, 32), 5), in_memory.search(unit(i, 32), 5)
        assert [m for m, _ in found] == [m for m, _ in expected] and found[0][0] == ids[i]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-5)
    allowed = np.array(ids[10:20])
    assert {m for m, _ in in_database.search(unit(3, 32), 5, allowed)} <= set(ids[10:20])
    assert in_database.nearest(np.stack([unit(7, 32), unit(8, 32)])) == [
        (ids[7], pytest.approx(1.0)),
        (ids[8], pytest.approx(1.0)),
    ]

    monkeypatch.setattr(pg_vectors, "HNSW_MIN", 200)
    in_database.search(unit(0, 32), 5)  # sees 300 >= 200: builds the space's index in the background
    assert in_database.wait_until_built(120)
    plan = "\n".join(
        r[0]
        for r in store._conn.execute(
            f"EXPLAIN SELECT chunk_id FROM vectors WHERE space = {store.space_id} AND vector_dims(embedding) = 32"
            " ORDER BY embedding::vector(32) <=> ?::vector(32) LIMIT 5",
            (unit(0, 32),),
        )
    )
    assert f"vectors_hnsw_{store.space_id}_32" in plan
    agree = sum(in_database.search(unit(i, 32), 5)[0][0] == ids[i] for i in range(0, 300, 10))
    assert agree >= 28  # approximate now, near enough exact at this size
    found = in_database.nearest(np.stack([unit(i, 32) for i in range(0, 300, 10)]))  # one statement, through the index
    assert sum(m == ids[i] for (m, _), i in zip(found, range(0, 300, 10))) >= 28
    assert store._conn.execute(postgres.KEYWORD_INDEX_CHECK).fetchone()[0]
    store._conn.execute("ANALYZE keywords")
    store._conn.execute("SET enable_seqscan = off")  # at this size a scan is cheaper: is the index usable at all?
    plan = [
        r[0]
        for r in store._conn.execute(  # under RLS, only if the match function is LEAKPROOF (pg_server.py)
            "EXPLAIN SELECT chunk_id FROM keywords WHERE space = ? AND terms @@ to_tsquery('simple', 'rare')",
            (store.space_id,),
        )
    ]
    store._conn.execute("RESET enable_seqscan")
    assert any("Index Cond" in line and "@@" in line for line in plan), plan
    name = f"vectors_hnsw_{store.space_id}_32"
    with postgres_server.admin(postgres_url.rsplit("/", 1)[1]) as admin:  # as a build killed half way leaves it
        admin.execute(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{name}'::regclass")
    assert in_database.wait_until_built(120)  # the invalid index is dropped and built again
    [new] = store.add([row(1000)])[0].chunk_ids  # rows added later are in the index at once
    assert in_database.search(unit(1000, 32), 1)[0][0] == new
    store.delete_memory(new)
    assert new not in [m for m, _ in in_database.search(unit(1000, 32), 5)]
    database.close()


def test_forget_with_vacuum_takes_the_bytes_out_of_the_postgres_files(
    tmp_path, postgres_url, postgres_server, embedder, model
):
    memory = on_postgres(tmp_path, postgres_url, embedder, model)
    [gone] = memory.add("Quillon Varga's safe code is 9182.", space="alice")
    memory.add("Alice waters the ferns on Fridays.", space="alice")
    memory.close()
    database = postgres_url.rsplit("/", 1)[1]

    def table_files() -> bytes:
        """The bytes of every table and index file of the space tables (not the WAL)."""
        with postgres_server.admin(database) as conn:
            paths = [
                row[0]
                for row in conn.execute(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't')"
                )
            ]
            conn.execute("CHECKPOINT")  # pages out of shared buffers into the files
        return b"".join((postgres_server.folder / "data" / p).read_bytes() for p in paths if p)

    assert b"Quillon" in table_files()
    result = CliRunner().invoke(
        app,
        ["forget", str(gone), "--space", "alice", "--vacuum", "--json"],
        env={"IMPRINT_STORE": postgres_url, "IMPRINT_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 0, result.output
    left = table_files()
    assert b"Quillon" not in left and b"9182" not in left and b"quillon" not in left
    assert b"ferns" in left


def test_doctor_names_the_postgres_store_and_its_spaces(tmp_path, postgres_url, embedder, model):
    memory = on_postgres(tmp_path, postgres_url, embedder, model)
    memory.add("One note.", space="alice")
    memory.close()
    (tmp_path / "data").mkdir(exist_ok=True)  # where adapters go: it holds no spaces on this store
    result = CliRunner().invoke(
        app, ["doctor", "--json"], env={"IMPRINT_STORE": postgres_url, "IMPRINT_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert "server 15." in facts["store"] and "pgvector 0." in facts["store"] and "1 spaces" in facts["store"]
    assert "keyword index in use" in facts["store"]
    assert facts["data dir"].endswith("(adapters)")
    broken = CliRunner().invoke(app, ["doctor", "--json"], env={"IMPRINT_STORE": postgres_url + "_missing"})
    assert "cannot connect" in json.loads(broken.stdout)["store"]


def test_updates_back_to_an_earlier_text_and_to_another_memorys_text_on_postgres(
    tmp_path, postgres_url, embedder, model
):
    from test_update import check_updates_back_and_to_another_memorys_text

    memory = on_postgres(tmp_path, postgres_url, embedder, model)
    check_updates_back_and_to_another_memorys_text(memory)
