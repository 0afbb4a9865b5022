"""Small SQL helpers the store's parts share: placeholders, id filters, the time, the transaction."""

import json
import sqlite3
from datetime import datetime, timezone

# the columns a Chunk is read from (chunks c joined with raw_items r)
CHUNK_COLUMNS = (
    "c.id, c.raw_id, r.source, c.text, c.speaker, c.time, c.tokens, c.metadata, c.added_at, c.dropped,"
    " c.repeat_of, c.uses, c.replaced_by"
)
ROW_KEYS = {"raw_items": "id", "chunks": "id", "vectors": "chunk_id", "superseded": "rowid"}  # a row's id, by table


def marks(values: list) -> str:
    """The placeholders of an `IN (...)` list of these values."""
    return ",".join("?" * len(values))


def among(column: str, allowed) -> tuple[str, list]:
    """` AND column IN (the allowed ids)` and its one parameter (a JSON list: any number of ids);
    nothing when `allowed` is None (every id)."""
    if allowed is None:
        return "", []
    return f" AND {column} IN (SELECT value FROM json_each(?))", [json.dumps(allowed.tolist())]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: the all-or-nothing write."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")
