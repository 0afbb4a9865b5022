"""Moving a data folder's spaces into a Postgres database (`imprint migrate --to postgresql://...`).

Rows are copied as they are stored, ids included: an encrypted space's sealed values are bound to
their row ids and stay sealed (the key is needed only to rebuild the keyword index), and adapter
manifests keep naming the right memories. Each space is copied in one transaction, so a failed
copy leaves no half space behind; a space the database already holds is skipped, not merged.
Keywords and filter tags are made anew from the memories; adapters stay under the data folder,
which the Postgres settings keep pointing at.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .postgres import Connection, PostgresDatabase, PostgresStore, sealed_text
from .sql import marks, now
from .sqlite import SqliteFiles, SqliteStore

# table -> columns copied as they are (entities and mentions are copied by name, see below)
COPIED = {
    "raw_items": ("id", "source", "kind", "time", "content", "original", "metadata", "sha256", "added_at"),
    "chunks": (
        "id",
        "raw_id",
        "position",
        "text",
        "speaker",
        "time",
        "tokens",
        "metadata",
        "added_at",
        "dropped",
        "repeat_of",
        "uses",
        "replaced_by",
    ),
    "vectors": ("chunk_id", "vector"),
    "staged_vectors": ("chunk_id", "vector"),
    "meta": ("key", "value"),
    "superseded": ("chunk_id", "sentence", "now", "by_chunk", "since"),
    "quarantine": ("table_name", "row_id", "reason", "row", "at"),
}
BYTES_COLUMNS = {("raw_items", "original"), ("vectors", "vector"), ("staged_vectors", "vector")}


@dataclass
class Moved:
    space: str
    memories: int
    skipped: str | None = None  # why the space was not copied


def migrate_to_postgres(
    files: SqliteFiles, master_key: bytes | None, url: str, progress: Callable[[str], None] = lambda name: None
) -> list[Moved]:
    """Copy every space of `files` into the database at `url`."""
    database = PostgresDatabase(url)
    moved = []
    try:
        for name in files.names():
            progress(name)
            if database.exists(name):
                moved.append(Moved(name, 0, "the database already has a space of this name"))
                continue
            source = files.open(name, master_key)
            try:
                _copy(source, url, name)
            finally:
                source.close()
            target = PostgresStore(url, name, master_key)
            try:
                with target._lock, target._write():
                    target._rebuild_keywords()
                target._backfill_tags()  # a plain tag's separator differs here
                moved.append(Moved(name, target.count()))
            finally:
                target.close()
    finally:
        database.close()
    return moved


def _copy(source: SqliteStore, url: str, name: str) -> None:
    conn = Connection(url)
    try:
        with conn.raw.transaction():
            space_id = conn.execute(
                "INSERT INTO spaces (name, token, created_at) VALUES (?, ?, ?) RETURNING id",
                (name, secrets.token_hex(8), now()),
            ).fetchone()[0]
            conn.execute("SELECT set_config('imprint.space', ?, true)", (str(space_id),))
            for table, columns in COPIED.items():
                rows = source._conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
                text = [(table, column) not in BYTES_COLUMNS for column in columns]
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(columns)})",
                    [
                        [sealed_text(v) if is_text and isinstance(v, bytes) else v for v, is_text in zip(row, text)]
                        for row in rows
                    ],
                )
            entities = {}
            for entity_id, entity in source._conn.execute("SELECT id, name FROM entities"):
                entities[entity_id] = conn.execute(
                    "INSERT INTO entities (name) VALUES (?) RETURNING id", (entity,)
                ).fetchone()[0]
            conn.executemany(
                "INSERT INTO mentions (chunk_id, entity_id, subject) VALUES (?, ?, ?)",
                [
                    (chunk_id, entities[entity_id], bool(subject))
                    for chunk_id, entity_id, subject in source._conn.execute(
                        "SELECT chunk_id, entity_id, subject FROM mentions"
                    )
                ],
            )
            last = {table: source._next_ids(table, 1) - 1 for table in ("raw_items", "chunks")}
            conn.execute(
                "UPDATE spaces SET last_ids = jsonb_build_object('raw_items', ?::bigint, 'chunks', ?::bigint)"
                " WHERE id = ?",
                (last["raw_items"], last["chunks"], space_id),
            )
    finally:
        conn.close()
