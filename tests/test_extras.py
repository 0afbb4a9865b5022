"""The core install works without the optional parts, and a feature whose extra is missing says which
extra to install. A subprocess where the extras' modules cannot be imported stands in for a venv
installed without them (Python raises the same ModuleNotFoundError in both)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from imprint.extras import EXTRAS

pytestmark = pytest.mark.filterwarnings("ignore")


def run_without(extras: list[str], code: str, tmp_path) -> subprocess.CompletedProcess:
    gone = sorted({module for extra in extras for module in EXTRAS[extra]})
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        GONE = {gone!r}
        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in GONE:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Absent())
    """) + textwrap.dedent(code)
    env = {**os.environ, "IMPRINT_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)


def test_the_core_adds_searches_and_reads_code_without_any_extra(tmp_path):
    (tmp_path / "tool.py").write_text("def parse_config(path):\n    return open(path).read()\n")
    done = run_without(
        list(EXTRAS),
        f"""
        import json, imprint
        with imprint.Memory() as memory:
            memory.add("Mira Quenton moved to Riga in 2024.", space="s")
            memory.add_paths([{str(tmp_path / "tool.py")!r}], space="s")
            hits = memory.search("Where does Mira live?", space="s", k=1)
            code = [m.metadata for m in memory.list_memories(space="s")]
            gone = [name for name in ("peft", "fastapi", "psycopg", "tree_sitter") if name in sys.modules]
        print(json.dumps({{"hit": hits[0].memory.text, "code": code, "loaded": gone}}))
    """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Riga" in result["hit"] and result["loaded"] == []
    assert any(m.get("kind") == "lines" for m in result["code"])  # kept as line windows, not symbols
    assert "pip install 'imprint[code]'" in done.stderr


@pytest.mark.parametrize(
    "extra, command",
    [
        ("train", ["consolidate", "--space", "s"]),
        ("serve", ["serve"]),
        ("postgres", ["list", "--space", "s"]),
    ],
)
def test_a_feature_without_its_extra_names_the_extra_and_keeps_what_is_stored(tmp_path, extra, command):
    added = run_without(
        [extra],
        """
        import imprint
        with imprint.Memory() as memory:
            memory.add("Tomas Brekke founded Zorblat.", space="s")
    """,
        tmp_path,
    )
    assert added.returncode == 0, added.stderr[-2000:]
    env = {"IMPRINT_STORE": "postgresql://nobody@127.0.0.1:1/none"} if extra == "postgres" else {}
    failed = run_without(
        [extra],
        f"""
        import os, sys
        os.environ.update({env!r})
        sys.argv = ["imprint", *{command!r}]
        from imprint.cli import app
        app()
    """,
        tmp_path,
    )
    assert failed.returncode != 0
    assert f"pip install 'imprint[{extra}]'" in failed.stderr, failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr
    kept = run_without(
        [],
        """
        import imprint
        with imprint.Memory() as memory:
            print(memory.count("s"))
    """,
        tmp_path,
    )
    assert kept.stdout.strip().splitlines()[-1] == "1"
