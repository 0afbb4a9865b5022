"""The schema of the Postgres store, as numbered migrations (recorded in `imprint_migrations`).

One schema for every space: each table has a `space` column leading every key, and row-level
security shows a connection only the rows of the space it opened (`imprint.space`, set once per
connection), so a query that forgot to say which space cannot read or write another one. Why not a
schema per space: 10k spaces would be 10k copies of every table and index in the catalogue, each
migration would run 10k times, and connection pools could not be shared. Row ids count per space
(`spaces.last_ids`), as in a SQLite file: a space moves between backends with its ids, to which its
sealed values are bound.

The table names and columns match the SQLite schema, so the shared SQL in base.py runs on both.
Differences: sealed text is base64 text (a column holds one type here), `superseded` has an explicit
`rowid`, keywords are a `tsvector` column with a GIN index led by the space (btree_gin, a trusted
extension that ships with Postgres), and a vector is kept twice when the space is not encrypted: the
float32 bytes every backend reads, and a pgvector `embedding` the database searches. The store fills
`embedding` in the same transaction (a trigger empties it when the bytes change, as in a reindex).
An encrypted space's vectors are sealed, so its `embedding` stays empty and it is searched in memory.
"""

MIGRATIONS = [
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE EXTENSION IF NOT EXISTS btree_gin;
    CREATE TABLE spaces (
        id SERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_ids JSONB NOT NULL DEFAULT '{}'
    );
    CREATE FUNCTION imprint_space() RETURNS INTEGER LANGUAGE sql STABLE
        AS $$ SELECT nullif(current_setting('imprint.space', true), '')::integer $$;
    CREATE TABLE raw_items (
        space INTEGER NOT NULL DEFAULT imprint_space() REFERENCES spaces (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        time TEXT,
        content TEXT NOT NULL,
        original BYTEA,
        metadata TEXT NOT NULL DEFAULT '{}',
        sha256 TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (space, id),
        UNIQUE (space, source, sha256)
    );
    CREATE INDEX raw_items_source_latest ON raw_items (space, source, id);
    CREATE TABLE chunks (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        id BIGINT NOT NULL,
        raw_id BIGINT NOT NULL,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        speaker TEXT,
        time TEXT,
        tokens INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        added_at TEXT NOT NULL,
        dropped TEXT,
        repeat_of BIGINT,
        uses INTEGER NOT NULL DEFAULT 0,
        replaced_by BIGINT,
        PRIMARY KEY (space, id),
        FOREIGN KEY (space, raw_id) REFERENCES raw_items (space, id) ON DELETE CASCADE
    );
    CREATE INDEX chunks_raw ON chunks (space, raw_id);
    CREATE INDEX chunks_repeat_of ON chunks (space, repeat_of);
    CREATE INDEX chunks_replaced_by ON chunks (space, replaced_by);
    CREATE TABLE vectors (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        chunk_id BIGINT NOT NULL,
        vector BYTEA NOT NULL,
        embedding vector,
        PRIMARY KEY (space, chunk_id),
        FOREIGN KEY (space, chunk_id) REFERENCES chunks (space, id) ON DELETE CASCADE
    );
    CREATE INDEX vectors_unfilled ON vectors (space) WHERE embedding IS NULL;
    CREATE FUNCTION imprint_vector_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.embedding := NULL;
        RETURN NEW;
    END $$;
    CREATE TRIGGER vectors_refill BEFORE UPDATE OF vector ON vectors FOR EACH ROW
        WHEN (OLD.vector IS DISTINCT FROM NEW.vector) EXECUTE FUNCTION imprint_vector_changed();
    CREATE TABLE staged_vectors (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        chunk_id BIGINT NOT NULL,
        vector BYTEA NOT NULL,
        PRIMARY KEY (space, chunk_id),
        FOREIGN KEY (space, chunk_id) REFERENCES chunks (space, id) ON DELETE CASCADE
    );
    CREATE FUNCTION imprint_unstage() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN  -- a vector deleted (NEW is NULL) or moved: its staged one, and the one staged where it moved
        DELETE FROM staged_vectors WHERE space = OLD.space AND chunk_id IN (OLD.chunk_id, NEW.chunk_id);
        RETURN NULL;
    END $$;
    CREATE TRIGGER vectors_unstage_move AFTER UPDATE OF chunk_id ON vectors
        FOR EACH ROW EXECUTE FUNCTION imprint_unstage();
    CREATE TRIGGER vectors_unstage_delete AFTER DELETE ON vectors
        FOR EACH ROW EXECUTE FUNCTION imprint_unstage();
    CREATE TABLE keywords (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        chunk_id BIGINT NOT NULL,
        terms tsvector NOT NULL,
        PRIMARY KEY (space, chunk_id),
        FOREIGN KEY (space, chunk_id) REFERENCES chunks (space, id) ON DELETE CASCADE
    );
    CREATE INDEX keywords_terms ON keywords USING gin (space, terms);
    CREATE TABLE meta (
        space INTEGER NOT NULL DEFAULT imprint_space() REFERENCES spaces (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (space, key)
    );
    CREATE TABLE entities (
        space INTEGER NOT NULL DEFAULT imprint_space() REFERENCES spaces (id) ON DELETE CASCADE,
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        UNIQUE (space, name)
    );
    CREATE TABLE mentions (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        chunk_id BIGINT NOT NULL,
        entity_id BIGINT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        subject BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (space, chunk_id, entity_id),
        FOREIGN KEY (space, chunk_id) REFERENCES chunks (space, id) ON DELETE CASCADE
    );
    CREATE INDEX mentions_entity ON mentions (entity_id);
    CREATE TABLE superseded (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        chunk_id BIGINT NOT NULL,
        sentence TEXT NOT NULL,
        now TEXT NOT NULL,
        by_chunk BIGINT NOT NULL,
        since TEXT,
        FOREIGN KEY (space, chunk_id) REFERENCES chunks (space, id) ON DELETE CASCADE,
        FOREIGN KEY (space, by_chunk) REFERENCES chunks (space, id) ON DELETE CASCADE
    );
    CREATE INDEX superseded_chunk ON superseded (space, chunk_id);
    CREATE INDEX superseded_by ON superseded (space, by_chunk);
    CREATE TABLE quarantine (
        space INTEGER NOT NULL DEFAULT imprint_space() REFERENCES spaces (id) ON DELETE CASCADE,
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        table_name TEXT NOT NULL,
        row_id BIGINT NOT NULL,
        reason TEXT NOT NULL,
        row TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE tags (
        space INTEGER NOT NULL DEFAULT imprint_space(),
        chunk_id BIGINT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (space, chunk_id, key, value),
        FOREIGN KEY (space, chunk_id) REFERENCES chunks (space, id) ON DELETE CASCADE
    );
    CREATE INDEX tags_key_value ON tags (space, key, value);
    """,
    # A vector row held both copies inline (~3 KB for 384 dimensions), over the 2 KB at which
    # Postgres compresses a row: every distance then decompressed its `embedding` (4x slower scans).
    # The pgvector copy stays inline and uncompressed; the bytes go out of line. Rows written before
    # keep their layout until rewritten.
    """
    ALTER TABLE vectors ALTER COLUMN embedding SET STORAGE PLAIN, ALTER COLUMN vector SET STORAGE EXTERNAL;
    """,
]

# Every table holding a space's rows; each gets the same row-level security policy.
SPACE_TABLES = (
    "raw_items",
    "chunks",
    "vectors",
    "staged_vectors",
    "keywords",
    "meta",
    "entities",
    "mentions",
    "superseded",
    "quarantine",
    "tags",
)


def security_statements() -> list[str]:
    """Row-level security on every space table, forced for the tables' owner too (superusers and
    roles with BYPASSRLS still see everything: imprint must not connect as one)."""
    statements = []
    for table in SPACE_TABLES:
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS own_space ON {table}",
            f"CREATE POLICY own_space ON {table} USING (space = imprint_space()) WITH CHECK (space = imprint_space())",
        ]
    return statements
