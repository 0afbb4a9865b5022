"""Small SQL helpers the store's parts share: the columns of a memory, placeholders, the time."""

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


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
