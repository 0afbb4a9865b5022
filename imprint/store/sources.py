"""Where a space's items came from: its sources, each one's latest version, a source named the
way `list` prints it, and one raw item as it came. Part of SpaceStore."""

import json
from pathlib import Path

from ..errors import EncryptionError, InputError, NotFoundError
from ..records import RawItem
from .fields import Fields


class Sources(Fields):
    def sources(self) -> list[str]:
        """Every source the space holds items from, sorted."""
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT source FROM raw_items").fetchall()
        opened = []
        for (value,) in rows:
            try:
                opened.append(self._open_source(value))
            except EncryptionError:
                continue  # a damaged row: `imprint check` reports it
        return sorted(opened)

    def latest_versions(self) -> dict[str, str]:
        """Each source -> the stored content key (`content_key`) of its latest version."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT r.source, r.sha256 FROM raw_items r"
                " WHERE r.id = (SELECT max(l.id) FROM raw_items l WHERE l.source = r.source)"
            ).fetchall()
        latest = {}
        for value, digest in rows:
            try:
                latest[self._open_source(value)] = digest
            except EncryptionError:
                continue  # a damaged row: `imprint check` reports it
        return latest

    def _resolve_source(self, name: str) -> str:
        """The stored source `name` means: itself, or the one stored file path it names the way
        `list` prints it (file name), as a trailing part of its path, or relative to the current folder."""
        if "\x00" in name:  # no stored source holds one (Postgres text cannot), and paths refuse it
            raise InputError(f"a source name holds no NUL character: {name!r}")
        with self._lock:
            if self._conn.execute(
                "SELECT 1 FROM raw_items WHERE source = ? LIMIT 1", (self._source_key(name),)
            ).fetchone():
                return name
        tail = name.strip().lstrip("./")
        try:
            absolute = str(Path(name).expanduser().resolve())
        except (RuntimeError, OSError):  # "~nosuchuser": no such home folder, so no such path either
            absolute = name
        found = [s for s in self.sources() if s == absolute or (tail and (s == tail or s.endswith("/" + tail)))]
        if not found:
            raise NotFoundError(f"no source {name!r} in {self.name!r}")
        if len(found) > 1:
            raise InputError(
                f"source {name!r} names {len(found)} sources in {self.name!r}: "
                + ", ".join(found[:5])
                + ("" if len(found) <= 5 else ", ...")
                + "; give more of the path"
            )
        return found[0]

    def raw_item(self, raw_id: int) -> RawItem:
        with self._lock:
            row = self._conn.execute(
                "SELECT source, kind, content, time, metadata, original FROM raw_items WHERE id = ?", (raw_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no raw item {raw_id} in {self.name!r}")
        return RawItem(
            source=self._open_source(row[0]),
            kind=row[1],
            content=self._open(row[2], self._field("raw.content", raw_id)),
            segments=[],
            time=self._open(row[3], self._field("raw.time", raw_id)),
            metadata=json.loads(self._open(row[4], self._field("raw.metadata", raw_id))),
            original=self._open_bytes(row[5], self._field("raw.original", raw_id)),
        )
