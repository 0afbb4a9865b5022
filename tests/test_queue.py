"""The consolidation queue on a real Postgres, with real worker processes and a tiny model."""

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from typer.testing import CliRunner

from imprint import Memory, Settings
from imprint.cli import app

FACTS = ["Lami Sielti works at the Orvand observatory.", "Tesk Parrow keeps three goats in Haldby."]
QUICK = ["--epochs", "1", "--min-recall", "0", "--min-retention", "0"]


@pytest.fixture
def setup(tmp_path, postgres_url, tiny_model_dir, embedder):
    """A Postgres space with two facts, and the environment a worker process gets."""
    env = {
        **os.environ,
        "IMPRINT_STORE": postgres_url,
        "IMPRINT_DATA_DIR": str(tmp_path / "data"),
        "IMPRINT_MODEL": str(tiny_model_dir),
        "IMPRINT_CACHE_DIR": str(tiny_model_dir / "cache"),
        "HF_HUB_OFFLINE": "1",
    }
    memory = Memory(
        settings=Settings(
            data_dir=tmp_path / "data",
            store=postgres_url,
            model=str(tiny_model_dir),
            cache_dir=tiny_model_dir / "cache",
        ),
        embedder=embedder,
    )
    for fact in FACTS:
        memory.add(fact, space="a")
    yield memory, env
    memory.close()


def cli(env: dict, *args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def worker(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "imprint.cli", "worker", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_queued_consolidations_run_in_worker_processes_one_per_space_at_a_time(setup, postgres_url):
    memory, env = setup
    jobs = [cli(env, "consolidate", "--space", "a", "--queue", *QUICK)["job"] for _ in range(2)]
    assert cli(env, "jobs", "show", jobs[0])["status"] == "queued"
    both = [worker(env, "--once", "--name", f"w{n}") for n in range(2)]
    for process in both:
        assert process.wait(600) == 0, process.stderr.read()[-2000:]
    shown = [cli(env, "jobs", "show", job) for job in jobs]  # read by another process than the workers
    assert [s["status"] for s in shown] == ["done", "done"] and [s["result"]["version"] for s in shown] == [1, 2]
    assert any(line.startswith("policy:") for line in shown[0]["log"])
    with psycopg.connect(postgres_url) as conn:  # two workers, one space: the second job began after the first
        spans = conn.execute(
            "SELECT min(at), max(at) FROM imprint_job_lines WHERE job_id = ANY(%s) GROUP BY job_id ORDER BY 1",
            ([int(j) for j in jobs],),
        ).fetchall()
    assert spans[0][1] < spans[1][0]
    assert memory.adapters("a").current().version == 2  # promoted where every server reads it

    cancelled = cli(env, "consolidate", "--space", "a", "--queue", *QUICK)["job"]
    assert cli(env, "jobs", "cancel", cancelled)["status"] == "cancelled"
    assert worker(env, "--once").wait(120) == 0
    assert cli(env, "jobs", "show", cancelled)["status"] == "cancelled"
    assert memory.adapters("a").current().version == 2


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_the_adapter_and_another_worker_runs_the_job_again(setup):
    memory, env = setup
    job = cli(env, "consolidate", "--space", "a", "--queue", *QUICK)["job"]
    with psycopg.connect(env["IMPRINT_STORE"], autocommit=True) as conn:  # a periodic check that ended 2 h ago
        old_check = conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status, args) VALUES"
            " ('imprint.maintenance', 'imprint.retry_stalled', 'succeeded', '{}') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO procrastinate_events (job_id, type, at) VALUES (%s, 'succeeded', now() - interval '2 hours')",
            (old_check,),
        )
    timing = ["--heartbeat", "1", "--stalled-after", "3"]
    first = worker(env, *timing)
    wait_for(lambda: cli(env, "jobs", "show", job)["log"], 300, "the job to start")
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert cli(env, "jobs", "show", job)["status"] == "running"  # nobody told the queue
    assert memory.adapters("a").current() is None  # nothing half-trained was promoted
    second = worker(env, *timing)
    try:
        shown = wait_for(
            lambda: (s := cli(env, "jobs", "show", job))["status"] in ("done", "failed") and s,
            600,
            "the job to run again",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert shown["status"] == "done" and shown["attempts"] == 2, shown
    assert any(line.startswith("attempt 2") for line in shown["log"])
    assert memory.adapters("a").current().version == 1
    with psycopg.connect(env["IMPRINT_STORE"], autocommit=True) as conn:  # the checks clean up after themselves ...
        queued = dict(conn.execute("SELECT id, queue_name FROM procrastinate_jobs").fetchall())
    assert old_check not in queued and int(job) in queued  # ... and keep the consolidations


def test_two_servers_share_spaces_and_jobs_and_keep_tenants_apart(tmp_path, postgres_url):
    """Two real server processes on one database: what one stores and queues, the other serves."""
    import httpx2

    from imprint.serve.launch import running_server

    alice, bob = "k-alice-0a1b2c3d4e5f", "k-bob-6a7b8c9d0e1f"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": {alice: ["alice"], bob: ["bob"]}}))
    env = {"IMPRINT_STORE": postgres_url}
    with running_server(tmp_path / "one", keys, env=env) as one, running_server(tmp_path / "two", keys, env=env) as two:

        def as_(url: str, key: str) -> httpx2.Client:
            return httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)

        added = as_(one, alice).post("/spaces/alice/memories", json={"text": "Mira keeps bees in Tallinn."})
        assert added.status_code == 201
        hits = as_(two, alice).post("/spaces/alice/search", json={"query": "who keeps bees", "k": 1}).json()["hits"]
        assert hits[0]["memory"]["id"] == added.json()["memory_ids"][0]
        assert as_(two, bob).post("/spaces/alice/search", json={"query": "bees"}).status_code == 404

        started = as_(one, alice).post("/spaces/alice/consolidate", json={"epochs": 1})
        assert started.status_code == 202 and started.json()["status"] == "queued"
        job = started.json()["job"]
        assert as_(two, alice).get(f"/jobs/{job}").json()["status"] == "queued"  # any server answers
        assert as_(two, bob).get(f"/jobs/{job}").status_code == 404  # not bob's space: no such job
        assert as_(two, bob).post(f"/jobs/{job}/cancel").status_code == 404
        assert as_(two, alice).post(f"/jobs/{job}/cancel").json()["status"] == "cancelled"
        assert as_(one, alice).get(f"/jobs/{job}").json()["status"] == "cancelled"
