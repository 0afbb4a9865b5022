"""The README's Quickstart runs as written, on examples/, in a fresh data folder."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\n.*?```\n(.*?)```", readme, re.DOTALL).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_every_quickstart_command_runs_as_written(tmp_path):
    env = os.environ | {
        "IMPRINT_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "80",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    said = {}
    for command in quickstart_commands():
        run = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, (command, run.stdout[-2000:], run.stderr[-2000:])
        said[command] = run.stdout
    assert len(said) >= 12
    # the ids the README names are the ones the commands print
    assert "mira.md" in said["imprint show 2 --space alice"]
    assert "Riga" in said["imprint history 2 --space alice"]
    assert "forgot 1 memory (3)" in said["imprint forget 3 --space alice"]
    assert "Helix" in said['imprint search "editor" --space alice -f user_id=u1 --json']
    assert "v1" in said["imprint adapters --space alice"]  # trained and judged by the gate, promoted or not


def test_the_quickstart_uses_the_examples_folder_and_no_placeholder():
    commands = quickstart_commands()
    assert commands[0].startswith("imprint add examples/") and all("[" not in c and "<" not in c for c in commands)
    assert (ROOT / "examples" / "chat.json").exists()
