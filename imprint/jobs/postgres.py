"""Consolidation jobs in the Postgres database (a `JobRunner`), for workers on any machine (procrastinate).

`imprint consolidate --queue` and the server's consolidate route enqueue; `imprint worker` runs
them. procrastinate gives what a hand-written queue would get wrong: one job per space at a time
(its `lock`), workers that take jobs with SKIP LOCKED, heartbeats, and abort requests. A worker
that dies (kill -9, a lost machine) stops sending heartbeats; every worker looks for such stalled
jobs a few times a minute and puts them back in the queue, so another worker runs them again.
Training only promotes an adapter at its end, so a job killed halfway leaves the current adapter
as it was. Each job's progress lines and result are rows here too, so any server answers
`GET /jobs/{id}`.
"""

import datetime
import json
import socket
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import JobAborted
from psycopg_pool import ConnectionPool

from ..errors import NotFoundError
from ..memory import Memory
from ..weights.plan import ConsolidateOptions
from .runner import Cancelled, JobView

TASK = "imprint.consolidate"
MAINTENANCE = "imprint.maintenance"  # the queue of the periodic check; its finished runs are deleted after an hour
STATUS = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "aborting": "cancelling",
    "aborted": "cancelled",
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS imprint_job_lines (
    job_id BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS imprint_job_lines_job ON imprint_job_lines (job_id);
CREATE TABLE IF NOT EXISTS imprint_job_results (
    job_id BIGINT PRIMARY KEY,
    result JSONB,
    error TEXT
);
"""


class ConsolidationQueue:
    """Enqueue, read and cancel consolidation jobs; `work` runs them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))
        self.app.periodic(cron="* * * * * */10", periodic_id="stalled")(
            self.app.task(
                name="imprint.retry_stalled",
                queue=MAINTENANCE,
                queueing_lock="imprint.retry_stalled",
                pass_context=True,
            )(self._retry_stalled)
        )
        self._consolidate = self.app.task(name=TASK, pass_context=True)(self._run)
        self._memory: Memory | None = None
        self.stalled_after = 30.0  # seconds without a heartbeat after which a worker's jobs run again
        self._install()
        self.app.open()
        # progress lines, outcomes and status reads: a few connections kept, not one opened per line
        self._pool = ConnectionPool(url, min_size=0, max_size=2, kwargs={"autocommit": True}, open=True)

    def _install(self) -> None:
        """procrastinate's schema and the job tables, once per database (under imprint's migration lock)."""
        from ..store.pg_connection import LOCK_CLASS, MIGRATION_LOCK

        with psycopg.connect(self.url, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, MIGRATION_LOCK))
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is None:
                conn.execute(self.app.schema_manager.get_schema())
            conn.execute(SCHEMA)

    def close(self) -> None:
        self._pool.close()
        self.app.close()

    # --- servers and the CLI ---------------------------------------------------------------

    def consolidate(self, space: str, options: dict[str, Any]) -> JobView:
        """Queue a consolidation of `space` (options as `ConsolidateOptions` takes them)."""
        ConsolidateOptions(**options)  # a bad option fails here, not in a worker
        job_id = self._consolidate.configure(lock=f"consolidate:{space}").defer(space=space, options=options)
        return self.get(str(job_id))

    def get(self, job_id: str) -> JobView:
        jobs = self.app.job_manager.list_jobs(id=_job_number(job_id), task=TASK)
        if not jobs:
            raise NotFoundError(f"no job {job_id!r}")
        job = jobs[0]
        with self._pool.connection() as conn:
            lines = [
                row[0]
                for row in conn.execute(
                    "SELECT line FROM imprint_job_lines WHERE job_id = %s ORDER BY at, ctid", (job.id,)
                )
            ]
            outcome = conn.execute(
                "SELECT result, error FROM imprint_job_results WHERE job_id = %s", (job.id,)
            ).fetchone()
        return JobView(
            str(job.id),
            "consolidate",
            job.task_kwargs["space"],
            STATUS.get(job.status, job.status),
            job.attempts,
            lines,
            *(outcome or (None, None)),
        )

    def cancel(self, job_id: str) -> JobView:
        """Cancel a queued job, or ask a running one to stop (it stops at its next progress line)."""
        number = _job_number(job_id)
        self.get(job_id)
        self.app.job_manager.cancel_job_by_id(number, abort=True)
        return self.get(job_id)

    # --- workers ---------------------------------------------------------------------------

    def work(
        self,
        memory: Memory,
        name: str | None = None,
        once: bool = False,
        heartbeat: float = 10.0,
        stalled_after: float = 30.0,
    ) -> None:
        """Run jobs until stopped (SIGINT, SIGTERM; or, with `once`, until the queue is empty)."""
        self._memory = memory
        self.stalled_after = stalled_after
        self.app.run_worker(
            name=name or f"{socket.gethostname()}-worker",
            wait=not once,
            concurrency=1,
            update_heartbeat_interval=heartbeat,
            stalled_worker_timeout=stalled_after,
            fetch_job_polling_interval=1.0,
            abort_job_polling_interval=1.0,
            delete_jobs="never",
        )

    def _run(self, context: procrastinate.JobContext, space: str, options: dict[str, Any]) -> None:
        """One attempt at a job: its progress lines and result go to the database as they come."""
        job_id = context.job.id

        def log(line: str) -> None:
            self._line(job_id, line)
            if context.should_abort():
                raise Cancelled("cancelled")

        if context.job.attempts:
            log(f"attempt {context.job.attempts + 1}: the one before stopped without finishing")
        try:
            report = self._memory.consolidate(space, log=log, **ConsolidateOptions(**options).arguments())
        except Cancelled:
            raise JobAborted("cancelled") from None
        except Exception as error:
            self._outcome(job_id, None, f"{type(error).__name__}: {error}")
            raise
        self._outcome(job_id, report.to_dict(), None)

    def _line(self, job_id: int, line: str) -> None:
        with self._pool.connection() as conn:
            conn.execute("INSERT INTO imprint_job_lines (job_id, line) VALUES (%s, %s)", (job_id, line))

    def _outcome(self, job_id: int, result: dict | None, error: str | None) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO imprint_job_results (job_id, result, error) VALUES (%s, %s, %s)"
                " ON CONFLICT (job_id) DO UPDATE SET result = excluded.result, error = excluded.error",
                (job_id, json.dumps(result) if result is not None else None, error),
            )

    async def _retry_stalled(self, context: procrastinate.JobContext, timestamp: int) -> None:
        """Put the jobs of workers that stopped sending heartbeats back in the queue; delete this
        check's own finished runs (one every 10 s would pile up; consolidations are kept)."""
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(task_name=TASK, seconds_since_heartbeat=self.stalled_after):
            await manager.retry_job(job, retry_at=datetime.datetime.now(datetime.timezone.utc))
        await manager.delete_old_jobs(nb_hours=1, queue=MAINTENANCE)


def _job_number(job_id: str) -> int:
    try:
        return int(job_id)
    except ValueError:
        raise NotFoundError(f"no job {job_id!r}") from None
