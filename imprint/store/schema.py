"""The schema of a space's SQLite file, as numbered migrations.

Each entry upgrades the schema by one version; PRAGMA user_version records how far a file got, so
a file written by an older imprint is brought up to date when it is opened.
"""

import sqlite3
from collections.abc import Iterator

MIGRATIONS = [
    """
    CREATE TABLE raw_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        time TEXT,
        content TEXT NOT NULL,
        original BLOB,
        metadata TEXT NOT NULL DEFAULT '{}',
        sha256 TEXT NOT NULL,
        added_at TEXT NOT NULL,
        UNIQUE (source, sha256)
    );
    CREATE INDEX raw_items_source ON raw_items (source);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        raw_id INTEGER NOT NULL REFERENCES raw_items (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        speaker TEXT,
        time TEXT,
        tokens INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        added_at TEXT NOT NULL
    );
    CREATE INDEX chunks_raw ON chunks (raw_id);
    CREATE TABLE vectors (
        chunk_id INTEGER PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
        vector BLOB NOT NULL
    );
    CREATE VIRTUAL TABLE chunks_fts USING fts5 (
        text, content='chunks', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('deletions', '0');
    """,
    # The keyword index becomes contentless and store-maintained, so it can index tags instead of
    # words when the space is encrypted (triggers would copy plaintext into it).
    """
    DROP TRIGGER chunks_fts_insert;
    DROP TRIGGER chunks_fts_delete;
    DROP TABLE chunks_fts;
    CREATE VIRTUAL TABLE keywords USING fts5 (text, content='', tokenize='porter unicode61');
    INSERT INTO keywords (rowid, text) SELECT id, text FROM chunks;
    """,
    # Chunks kept raw but not indexed (no vector, no keyword entry) say why here; NULL: a memory.
    """
    ALTER TABLE chunks ADD COLUMN dropped TEXT;
    """,
    # The entity graph: which memories mention which names (keyed tags when encrypted).
    """
    CREATE TABLE entities (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE mentions (
        chunk_id INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        entity_id INTEGER NOT NULL REFERENCES entities (id),
        PRIMARY KEY (chunk_id, entity_id)
    ) WITHOUT ROWID;
    CREATE INDEX mentions_entity ON mentions (entity_id);
    CREATE TABLE superseded (
        chunk_id INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        sentence TEXT NOT NULL,
        now TEXT NOT NULL,
        by_chunk INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        since TEXT
    );
    CREATE INDEX superseded_chunk ON superseded (chunk_id);
    """,
    # A repeat points at the memory it repeats (merge: one memory, several sources), and memories
    # count how often they were used in answers (the consolidation policy reads it).
    """
    ALTER TABLE chunks ADD COLUMN repeat_of INTEGER;
    UPDATE chunks SET repeat_of = CAST(substr(dropped, 16) AS INTEGER) WHERE dropped LIKE 'repeats memory %';
    CREATE INDEX chunks_repeat_of ON chunks (repeat_of);
    ALTER TABLE chunks ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
    """,
    # A memory's subject: the first name it mentions (a passage's title, a turn's speaker). "A
    # mentions the subject of B" is the graph's relation (recall/graph.py); older files are backfilled.
    """
    ALTER TABLE mentions ADD COLUMN subject INTEGER NOT NULL DEFAULT 0;
    """,
    # `imprint check --repair` moves rows that fail their checks here, bytes intact, out of the way.
    """
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        table_name TEXT NOT NULL,
        row_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        row TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    # Filters: each scalar metadata value of a memory as a (key, value) row (keyed tags when
    # encrypted); and the newer version of a memory that an update or a changed file replaced.
    """
    CREATE TABLE tags (
        chunk_id INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (chunk_id, key, value)
    ) WITHOUT ROWID;
    CREATE INDEX tags_key_value ON tags (key, value);
    ALTER TABLE chunks ADD COLUMN replaced_by INTEGER;
    CREATE INDEX chunks_replaced_by ON chunks (replaced_by);
    """,
    # A source's latest version is looked up by sync for every file; the keyword index is rebuilt on
    # open to hold the parts of compound identifiers (parseConfigFile -> parse config file).
    """
    CREATE INDEX raw_items_source_latest ON raw_items (source, id);
    """,
    # A space records its embedder (every vector so far came from MiniLM); a reindex stages the new
    # vectors here, and a vector deleted or moved meanwhile takes its staged one with it.
    """
    INSERT OR IGNORE INTO meta SELECT 'embedder', '{"name": "all-MiniLM-L6-v2", "dimensions": 384}'
        WHERE EXISTS (SELECT 1 FROM vectors);
    CREATE TABLE IF NOT EXISTS staged_vectors (
        chunk_id INTEGER PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
        vector BLOB NOT NULL
    );
    CREATE TRIGGER IF NOT EXISTS vectors_unstage_delete AFTER DELETE ON vectors BEGIN
        DELETE FROM staged_vectors WHERE chunk_id = old.chunk_id;
    END;
    CREATE TRIGGER IF NOT EXISTS vectors_unstage_move AFTER UPDATE OF chunk_id ON vectors BEGIN
        DELETE FROM staged_vectors WHERE chunk_id IN (old.chunk_id, new.chunk_id);
    END;
    """,
]

SUBJECT_VERSION = 6  # the migration that marks subjects among mentions (4 added the graph)
TAGS_VERSION = 8  # the migration that makes metadata filterable
IDENTIFIER_VERSION = 9  # the migration after which the keyword index holds identifier parts


def statements(script: str) -> Iterator[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
