"""kill -9 in the middle of real work (a child process), then check what survived."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from imprint import Memory, Settings
from imprint.weights.plan import Gate, TrainConfig

ENV = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def run_until(script: str, marker: str) -> None:
    """Run `script` in a child, kill -9 it as soon as it prints a line containing `marker`."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    for line in child.stdout:
        if marker in line:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(60)
    assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"


def test_kill_during_ingest_keeps_every_committed_memory_and_no_half_written_one(tmp_path, embedder, model):
    data = tmp_path / "data"
    run_until(
        f"""
        from imprint import Memory
        from imprint.encode.parse import text_item
        items = [text_item(f"Note {{i}}: Person{{i}} moved to City{{i % 50}} in {{1950 + i % 70}}.", f"n{{i}}")
                 for i in range(3000)]
        Memory({str(data)!r}).ingest(items, "s", progress=lambda done, total: print("committed", done, flush=True))
    """,
        marker="committed",
    )

    path = data / "s.sqlite"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert chunks >= 256  # at least the batch it reported committed
        assert chunks < 3000  # it really was killed mid-way
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == chunks
        assert db.execute("SELECT count(*) FROM keywords").fetchone()[0] == chunks
        orphans = db.execute(
            "SELECT count(*) FROM raw_items r WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.raw_id = r.id)"
        ).fetchone()[0]
        assert orphans == 0
    memory = Memory(data, embedder=embedder, model=model)
    assert "Person7 " in memory.search("where did Person7 move", "s", k=1)[0].memory.text
    memory.add("Written after the crash.", space="s")
    assert memory.count("s") == chunks + 1


def test_kill_during_consolidation_keeps_the_last_promoted_adapter(tmp_path, tiny_model_dir, embedder):
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tiny_model_dir / "cache", model=str(tiny_model_dir))
    memory = Memory(settings=settings, embedder=embedder)
    memory.add("Ilse Varga keeps bees in Szeged.", space="a")
    quick = TrainConfig(epochs=1, lr=1e-2, r=4)
    memory.consolidate("a", quick, Gate(0, 0), replay_repeats=0, log=lambda _: None)
    memory.close()

    run_until(
        f"""
        from imprint import Memory, Settings
        from imprint.weights.plan import Gate
        from imprint.weights.plan import TrainConfig
        settings = Settings(data_dir={str(settings.data_dir)!r}, cache_dir={str(settings.cache_dir)!r},
                            model={str(tiny_model_dir)!r})
        Memory(settings=settings).consolidate("a", TrainConfig(epochs=500, lr=1e-2, r=4, stop_at_probe_recall=1.01),
                                              Gate(0, 0),
                                              replay_repeats=0, log=print)
    """,
        marker="epoch 2/",
    )

    again = Memory(settings=settings, embedder=embedder)
    registry = again.adapters("a")
    assert registry.current().version == 1 and [m.version for m in registry.versions()] == [1]
    report = again.consolidate("a", quick, Gate(0, 0), replay_repeats=0, log=lambda _: None)
    assert report.version == 2 and registry.current().version == 2
