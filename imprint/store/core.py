"""What every part of a space's store relies on, declared once: the connection and lock a backend
opens, the cipher, and the operations a backend supplies (its transaction, ids, keyword index,
physical deletion). Each part (fields, sources, edges, deletion, checking, filtering, embedding)
is a class over this one; `SpaceStore` (base.py) joins them and a backend (sqlite.py, postgres.py)
fills in what is marked here as supplied.
"""

import threading
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from ..records import Chunk
from .crypto import SpaceCipher


class StoreCore:
    name: str  # the space's name, for messages
    _conn: Any  # a connection whose execute/executemany take `?` placeholders
    _lock: threading.RLock
    cipher: SpaceCipher | None  # None: the space is not encrypted
    _format: int  # the encryption format; 0: not encrypted
    damaged: dict[tuple[str, int], str]  # rows found unreadable since opening, and why

    # --- what a backend supplies ---------------------------------------------------------

    SUBJECT_VERSION = TAGS_VERSION = IDENTIFIER_VERSION = 0  # schema versions that need a backfill

    def _migrate(self, master_key: bytes | None) -> int:
        """Bring the schema up to date; return the version it had (0: new)."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager:
        """The all-or-nothing write transaction; one writer per space at a time."""
        raise NotImplementedError

    def release(self) -> bool:
        """Give back what the space holds open while it is idle: the Postgres store closes its
        connection and connects again when used. False: busy now, try later. A SQLite store keeps
        its file open (it takes no connection from a server's limit)."""
        return True

    def _next_ids(self, table: str, count: int) -> int:
        """The first of `count` consecutive row ids never used before in this space, taken for the
        current write transaction (call inside it)."""
        raise NotImplementedError

    def _among(self, column: str, allowed: np.ndarray | None) -> tuple[str, list]:
        """` AND column IN (the allowed ids)` and its parameters; nothing when `allowed` is None."""
        raise NotImplementedError

    def _index_keywords(self, rows: list[tuple[int, str]]) -> None:
        """Put (memory id, text) into the keyword index."""
        raise NotImplementedError

    def _unindex_keywords(self, rows: list[tuple[int, str]], unreadable: list[int]) -> None:
        """Take memories out of the keyword index: (id, its text), and ids whose text no longer reads."""
        raise NotImplementedError

    def _clear_keywords(self) -> None:
        raise NotImplementedError

    def keyword_search(self, query: str, limit: int, allowed: np.ndarray | None = None) -> list[int]:
        """Memory ids by keyword rank for the words of `query`; with `allowed`, only those ids."""
        raise NotImplementedError

    def _scrub(self) -> None:
        """Make deletions physical: no forgotten byte left in the backend's files."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def is_replaced(self) -> bool:
        """Whether the space was deleted or replaced since it was opened (by another process)."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        """Roughly what the space takes on disk."""
        raise NotImplementedError

    def integrity(self) -> str:
        """The backend's own verdict on its storage ("ok")."""
        raise NotImplementedError

    def vectors_in_database(self) -> Any:
        """A dense index the backend searches itself (search, nearest), or None: then the vectors
        are searched in this process (recall/dense.py)."""
        return None

    # --- what another part supplies (declared here so each part says what it uses) -------

    def get(self, ids: list[int]) -> list[Chunk]:
        raise NotImplementedError

    def history(self, chunk_id: int) -> list[Chunk]:
        raise NotImplementedError

    def _row_to_chunk(self, row: tuple) -> Chunk:
        raise NotImplementedError

    def _damage(self, table: str, row_id: int, error: Exception) -> None:
        raise NotImplementedError

    def _resolve_source(self, name: str) -> str:
        raise NotImplementedError

    def _count_deletion(self) -> None:
        raise NotImplementedError

    def _delete_damaged(self, tables: list[str], ids: list[int]) -> None:
        raise NotImplementedError
