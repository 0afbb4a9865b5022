"""sync: keep a space in step with a folder (a repository). Files are compared by content hash
with the latest version the space holds, so only new and changed files are read and embedded;
files that are gone (deleted, renamed, now ignored or refused) are forgotten in every tier, as
`forget` does. Running it twice changes nothing the second time.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .encode.folder import Skipped
from .encode.parse import ParseOutcome, file_digest, folder_files, parse_data, read_file
from .errors import InputError, ParseError
from .forget import Forgotten, forget_in_weights
from .ingest import Ingest, IngestReport
from .llm.choose import Models
from .records import RawItem
from .spaces import Space


@dataclass
class SyncReport:
    folder: str
    new: list[str] = field(default_factory=list)  # files read for the first time
    changed: list[str] = field(default_factory=list)  # files whose content changed: their new version read
    unchanged: int = 0
    gone: list[str] = field(default_factory=list)  # files no longer there (or now left out): forgotten
    ingest: IngestReport = field(default_factory=IngestReport)
    forgotten: Forgotten | None = None
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)  # unreadable files, and files refused as secrets
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: what changed, and what it cost."""
        removed = len(self.forgotten.memory_ids) if self.forgotten else 0
        return (
            f"{self.folder}: {len(self.new)} new, {len(self.changed)} changed, {len(self.gone)} gone, "
            f"{self.unchanged:,} unchanged files; {self.ingest.indexed:,} memories added, {removed:,} forgotten; "
            f"{len(self.skipped):,} skipped, {len(self.errors)} not read; {self.seconds:.1f} s"
        )


def sync_folder(
    folder: Path,
    space: Space,
    ingest: Ingest,
    models: Models,
    max_bytes: int,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Bring `space` in step with `folder`; `progress(done, total)` counts the files read."""
    started = time.perf_counter()
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise InputError(f"sync needs a folder; {str(folder)!r} is not one")
    outcome = ParseOutcome()
    files = folder_files(root, max_bytes, outcome)
    report = SyncReport(str(root), skipped=outcome.skipped, errors=outcome.errors)
    latest = space.store.latest_versions()
    items: list[RawItem] = []
    # each file by its path under the root (a link inside it by its own name): a source the root held
    # and no longer does is forgotten, wherever its content came from
    present = {file: str(file) for file in files}
    for file, source in present.items():
        try:
            data = read_file(file, max_bytes)
            if latest.get(source) == space.store.content_key(file_digest(data, file)):
                report.unchanged += 1
                continue
            items.append(parse_data(data, file, source, file.relative_to(root).as_posix()))
        except ParseError as error:
            report.errors.append(error)
            continue
        (report.changed if source in latest else report.new).append(source)
    report.ingest = ingest.run(items, space, progress)
    still = set(present.values())
    report.gone = sorted(s for s in latest if s.startswith(str(root) + os.sep) and s not in still)
    if report.gone:
        deleted = [memory for source in report.gone for memory in space.store.delete_source(source)]
        report.forgotten = forget_in_weights(space, deleted, models)
    report.seconds = time.perf_counter() - started
    return report
