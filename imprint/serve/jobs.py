"""Background jobs (consolidation) for the server: start, then poll status and progress lines."""

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Job:
    id: str
    kind: str
    space: str
    status: str = "running"  # running | done | failed
    log: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None


class Jobs:
    """One worker thread per job; a lock per space so two consolidations of one space never overlap."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._space_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, space: str, work: Callable[[Callable[[str], None]], dict[str, Any]]) -> Job:
        """Run `work(log)` in a thread; its returned dict becomes the job's result."""
        job = Job(id=uuid.uuid4().hex[:12], kind=kind, space=space)
        with self._lock:
            self._jobs[job.id] = job
            space_lock = self._space_locks.setdefault(space, threading.Lock())

        def run() -> None:
            with space_lock:
                try:
                    job.result = work(job.log.append)
                    job.status = "done"
                except Exception as error:  # reported through the job, the server keeps running
                    job.error, job.status = f"{type(error).__name__}: {error}", "failed"
                finally:
                    job.finished_at = time.time()

        threading.Thread(target=run, name=f"job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)
