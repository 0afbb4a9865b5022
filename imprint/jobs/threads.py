"""Jobs in this process: one thread per job, a lock per space so two consolidations of one space never
overlap. For a server on SQLite; a restart loses the jobs (not their adapters: promotion is the last step)."""

import threading
import uuid
from typing import Any

from ..errors import NotFoundError
from ..memory import Memory
from ..weights.plan import ConsolidateOptions
from .runner import Cancelled, JobView


class ThreadJobs:
    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self._jobs: dict[str, JobView] = {}
        self._stop: dict[str, threading.Event] = {}
        self._space_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def consolidate(self, space: str, options: dict[str, Any]) -> JobView:
        arguments = ConsolidateOptions(**options).arguments()  # a bad option fails here, not in the thread
        job = JobView(id=uuid.uuid4().hex[:12], kind="consolidate", space=space, status="running")
        stop = threading.Event()
        with self._lock:
            self._jobs[job.id], self._stop[job.id] = job, stop
            space_lock = self._space_locks.setdefault(space, threading.Lock())

        def log(line: str) -> None:
            job.log.append(line)
            if stop.is_set():
                raise Cancelled("cancelled")

        def run() -> None:
            with space_lock:
                try:
                    job.result = self.memory.consolidate(space, log=log, **arguments).to_dict()
                    job.status = "done"
                except Cancelled:
                    job.status = "cancelled"
                except Exception as error:  # reported through the job, the server keeps running
                    job.error, job.status = f"{type(error).__name__}: {error}", "failed"

        threading.Thread(target=run, name=f"job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> JobView:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        return job

    def cancel(self, job_id: str) -> JobView:
        job = self.get(job_id)
        if job.status == "running":
            self._stop[job_id].set()
            job.status = "cancelling"
        return job

    def close(self) -> None:
        for stop in self._stop.values():
            stop.set()
