"""What a job runner does, whichever runs the jobs: start a consolidation, say how it goes, cancel it."""

from dataclasses import dataclass, field
from typing import Any, Protocol


class Cancelled(Exception):
    """Raised from a job's progress line once someone asked it to stop."""


@dataclass
class JobView:
    """A consolidation job as every caller sees it."""

    id: str
    kind: str
    space: str
    status: str  # queued | running | done | failed | cancelling | cancelled
    attempts: int = 0
    log: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None


class JobRunner(Protocol):
    def consolidate(self, space: str, options: dict[str, Any]) -> JobView:
        """Start (or queue) a consolidation of `space`; `options` as `ConsolidateOptions` takes them."""
        ...

    def get(self, job_id: str) -> JobView:
        """The job; NotFoundError when there is none."""
        ...

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued job, or stop a running one at its next progress line (the current adapter stays)."""
        ...

    def close(self) -> None: ...
