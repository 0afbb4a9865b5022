"""The spaces of one store (a data folder of SQLite files, or a Postgres database): each open Space
holds its store, vector index, entity graph and adapters. A space is opened once per process,
noticed when another process deleted or replaced it, and deleted whole.
"""

import functools
import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .activations import ActivationStates
from .errors import InputError, NotFoundError
from .extras import require
from .recall.dense import VectorIndex
from .recall.graph import GraphIndex
from .store.base import SpaceStore
from .store.sqlite import SqliteFiles
from .weights.adapters import AdapterRegistry

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch: "$" would let a final newline in


@dataclass
class SpaceSummary:
    """What a space holds, at a glance."""

    name: str
    memories: int
    sources: int
    bytes: int  # its store's files (its rows, in Postgres), its adapters and kept context states on disk
    encrypted: bool
    adapter_versions: int
    current_adapter: int | None
    last_consolidation: str | None  # when the newest adapter version was made


class Space:
    """One user's or project's memory: everything the pipelines read and write."""

    def __init__(self, name: str, store: SpaceStore, data_dir: Path, activation_bytes: int = 0) -> None:
        self.name = name
        self.store = store
        self.vectors = store.vectors_in_database() or VectorIndex(store)
        self._data_dir = data_dir
        self._activation_bytes = activation_bytes

    @functools.cached_property
    def graph(self) -> GraphIndex:
        return GraphIndex(self.store)

    @property
    def adapters(self) -> AdapterRegistry:
        """The space's adapter versions (sealed with the space's key when it is encrypted)."""
        return AdapterRegistry(self._data_dir, self.name, self.store.cipher)

    @property
    def activations(self) -> ActivationStates:
        """The context tier's kept prompt states (sealed with the space's key when it is encrypted)."""
        return ActivationStates(self._data_dir, self.name, self.store.cipher, self._activation_bytes)

    def summary(self) -> SpaceSummary:
        registry = self.adapters
        versions, current = registry.versions(), registry.current()
        size = self.store.size_bytes() + sum(registry.size_bytes(v.version) for v in versions)
        size += self.activations.size_bytes()
        return SpaceSummary(
            self.name,
            self.store.count(),
            len(self.store.sources()),
            size,
            self.store.cipher is not None,
            len(versions),
            current.version if current else None,
            max((v.created_at for v in versions), default=None),
        )


class Spaces:
    """The open spaces of a store, thread-safe. `store_url`: a postgresql:// URL, or None for one
    SQLite file per space in `data_dir` (adapters live under `data_dir` either way). Of the open
    spaces, the `connected` most recently used keep what their store holds open (a Postgres
    connection); the others give it back until they are used again."""

    def __init__(
        self,
        data_dir: Path,
        master_key: bytes | None,
        store_url: str | None = None,
        connected: int = 16,
        activation_bytes: int = 0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._activation_bytes = activation_bytes
        self._master_key = master_key
        if store_url:
            require("postgres", "the Postgres store (IMPRINT_STORE)")
            from .store.postgres import PostgresDatabase  # psycopg only loads for a Postgres store

            self._backend = PostgresDatabase(store_url)
        else:
            self._backend = SqliteFiles(self.data_dir)
        self._open: OrderedDict[str, Space] = OrderedDict()  # least recently used first
        self._connected = connected
        self._holding: set[str] = set()  # open spaces that may hold a connection
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return self._backend.names()

    def open(self, name: str, create: bool = False) -> Space:
        """The space `name`; NotFoundError when it does not exist and `create` is off."""
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise InputError(f"bad space name {name!r}: use letters, digits, '_', '-', '.' (max 64)")
        with self._lock:
            space = self._open.get(name)
            if space is not None and space.store.is_replaced():  # forgotten (or replaced) by another process
                self._open.pop(name).store.close()
                space = None
            if space is None:
                if not create and not self._backend.exists(name):
                    raise NotFoundError(f"no space {name!r}")  # never the server's paths
                space = self._open[name] = Space(
                    name, self._backend.open(name, self._master_key), self.data_dir, self._activation_bytes
                )
            self._open.move_to_end(name)
            self._holding.add(name)
            if len(self._holding) > self._connected:
                recent = set(itertools.islice(reversed(self._open), self._connected))
                self._holding -= {idle for idle in self._holding - recent if self._open[idle].store.release()}
            return space

    def delete(self, name: str) -> None:
        """Delete a whole space: its store (files, or rows), and its adapters."""
        space = self.open(name)
        with self._lock:
            self._open.pop(name, None)
            self._holding.discard(name)
            space.store.close()
        self._backend.delete(name)
        space.adapters.delete_all()
        space.activations.drop()

    def vacuum(self) -> str:
        """Make what was forgotten leave the store's files too (Postgres: VACUUM FULL; SQLite: already);
        says what was done."""
        return self._backend.vacuum()

    def close(self) -> None:
        with self._lock:
            for space in self._open.values():
                space.store.close()
            self._open.clear()
            self._backend.close()
