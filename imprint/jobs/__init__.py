"""Consolidation jobs behind one protocol: in the server's own threads (SQLite), or in the
Postgres store's shared queue that `imprint worker` processes run."""

from typing import TYPE_CHECKING

from ..errors import InputError
from ..extras import require
from ..memory import Memory
from .runner import Cancelled, JobRunner, JobView

if TYPE_CHECKING:
    from .postgres import ConsolidationQueue

__all__ = ["Cancelled", "JobRunner", "JobView", "open_queue"]


def open_queue(memory: Memory) -> "ConsolidationQueue":
    """The queue of the Postgres store `memory` uses; an error naming the fix on SQLite or without
    the postgres extra."""
    if not memory.settings.store:
        raise InputError("the job queue lives in the Postgres store: set IMPRINT_STORE=postgresql://...")
    require("postgres", "the job queue")
    from .postgres import ConsolidationQueue

    return ConsolidationQueue(memory.settings.store)
