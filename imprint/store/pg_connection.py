"""A Postgres connection that takes SQLite's `?` placeholders, reconnects once after a dropped
connection, and stores sealed bytes as text; imprint's advisory lock keys."""

import base64
import logging
from collections.abc import Callable, Sequence

import psycopg

from ..errors import InputError

log = logging.getLogger(__name__)
LOCK_CLASS = 7170  # first key of imprint's advisory locks: (LOCK_CLASS, space id) is a space's writer
MIGRATION_LOCK = 0  # (LOCK_CLASS, 0): one process migrates at a time


class Connection:
    """A psycopg connection that takes the `?` placeholders the shared SQL is written with. Once
    released (or lost, as when the server restarts) it connects again at its next statement, and
    `setup` runs on each new connection."""

    def __init__(self, url: str, setup: Callable[[psycopg.Connection], None] | None = None) -> None:
        self._url = url
        self._setup = setup
        self._translated: dict[str, str] = {}
        self._raw = self._connect()

    def _connect(self) -> psycopg.Connection:
        try:
            raw = psycopg.connect(self._url, autocommit=True)
        except psycopg.OperationalError as error:
            raise InputError(f"cannot connect to the Postgres store: {str(error).strip()}") from error
        try:
            if self._setup is not None:
                self._setup(raw)
        except BaseException:
            raw.close()
            raise
        return raw

    @property
    def raw(self) -> psycopg.Connection:
        if self._raw.closed:
            self._raw = self._connect()
        return self._raw

    def _sql(self, sql: str) -> str:
        translated = self._translated.get(sql)
        if translated is None:
            translated = self._translated[sql] = sql.replace("%", "%%").replace("?", "%s")
        return translated

    def execute(self, sql: str, params: Sequence = ()) -> psycopg.Cursor:
        return self.raw.execute(self._sql(sql), _storable(params))

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        rows = [_storable(row) for row in rows]
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)

    def close(self) -> None:
        """Close the connection; a later statement opens a new one."""
        self._raw.close()


def sealed_text(sealed: bytes) -> str:
    """Sealed bytes as a text column holds them here (base64)."""
    return base64.b64encode(sealed).decode()


def _storable(values: Sequence) -> list:
    """Parameters Postgres can store: its text holds no NUL character, so such a text is refused by name
    before the transaction writes anything (SQLite stores it)."""
    values = list(values)
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise InputError(f"text with a NUL character (\\x00) cannot be stored in Postgres: {value[:60]!r}")
    return values


# Row-level security keeps a query's own conditions from running before the policy's unless their
# functions are LEAKPROOF, and an index can only evaluate them first: without it, keyword matching
# (`tsvector @@ tsquery`) cannot use the GIN index and reads every keyword row of the space (29 ms
# at 100k memories, 1.6 ms with the index). Marking it is a superuser's statement, made once at
# set-up (docs/deployment.md); ts_match_vq raises no error that depends on the rows it reads.
