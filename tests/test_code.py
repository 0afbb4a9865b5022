"""Code memory: symbols found with tree-sitter, a folder read as a repository, sync, agent session
logs, and search that shows where code is. Real grammars, real SQLite, the real embedder."""

import asyncio
import json
import os
import subprocess
import sys

import pytest
from mcp import Client, StdioServerParameters

from imprint import Memory
from imprint.encode.code import WINDOW_LINES, code_segments
from imprint.encode.parse import file_digest, parse_data, parse_file, parse_paths
from imprint.errors import ParseError
from imprint.store.base import content_hash
from imprint.text.words import identifier_parts

LIMIT = 1_000_000

SOURCES = {
    "shop.py": (
        '''"""Orders."""
import os


@cached
def parse_config_file(path):
    """Read the settings."""
    return open(path).read()


class Cart:
    """A basket."""

    def add_item(self, item):
        self.items.append(item)
''',
        [("function", "parse_config_file", 5, 8), ("class", "Cart", 11, 12), ("method", "Cart.add_item", 14, 15)],
    ),
    "shop.js": (
        """import x from "y";
export function parseConfigFile(path) {
  return 1;
}
const onRequest = async (req) => req;
class Cart { addItem(item) { this.items.push(item); } }
""",
        [("function", "parseConfigFile", 2, 4), ("function", "onRequest", 5, 5), ("method", "Cart.addItem", 6, 6)],
    ),
    "shop.ts": (
        """interface Item { id: number }
export class Cart {
  addItem(item: Item): void {}
}
""",
        [("interface", "Item", 1, 1), ("method", "Cart.addItem", 3, 3)],
    ),
    "shop.go": (
        """package shop
type Cart struct { items []int }
func (c *Cart) AddItem(item int) { c.items = append(c.items, item) }
func ParseConfigFile(path string) error { return nil }
""",
        [("type", "Cart", 2, 2), ("method", "Cart.AddItem", 3, 3), ("function", "ParseConfigFile", 4, 4)],
    ),
    "shop.rs": (
        """struct Cart { items: Vec<i32> }
impl Cart {
    fn add_item(&mut self, item: i32) { self.items.push(item); }
}
fn parse_config_file() {}
""",
        [("struct", "Cart", 1, 1), ("method", "Cart.add_item", 3, 3), ("function", "parse_config_file", 5, 5)],
    ),
    "Cart.java": (
        """package shop;
public class Cart {
    public Cart() {}
    public void addItem(int item) {}
}
""",
        [("constructor", "Cart.Cart", 3, 3), ("method", "Cart.addItem", 4, 4)],
    ),
    "shop.c": (
        """#include <stdio.h>
struct cart { int n; };
static int add_item(struct cart *c, int item) {
    return c->n++;
}
""",
        [("struct", "cart", 2, 2), ("function", "add_item", 3, 5)],
    ),
    "shop.cpp": (
        """class Cart {
 public:
  void addItem(int item) { n++; }
};
int parseConfigFile() { return 0; }
""",
        [("method", "Cart.addItem", 3, 3), ("function", "parseConfigFile", 5, 5)],
    ),
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_source_files_become_one_memory_per_symbol_with_its_lines(name):
    text, expected = SOURCES[name]
    segments = code_segments(text, f"src/{name}")
    found = [
        (s.metadata["kind"], s.metadata.get("symbol"), s.metadata["start_line"], s.metadata["end_line"])
        for s in segments
    ]
    for symbol in expected:
        assert symbol in found, (symbol, found)
    lines = text.splitlines()
    for segment in segments:  # each memory: its location, then exactly those lines of the file
        header, *body = segment.text.splitlines()
        m = segment.metadata
        assert header.startswith(f"src/{name}:{m['start_line']}-{m['end_line']} {m['kind']}")
        assert body == lines[m["start_line"] - 1 : m["end_line"]]


def test_long_symbols_and_files_without_a_grammar_are_split_into_windows_of_lines():
    body = "\n".join(f"    total += {i}" for i in range(150))
    segments = code_segments(f"def long_one():\n    total = 0\n{body}\n    return total\n", "long.py")
    assert [s.metadata["symbol"] for s in segments] == ["long_one"] * 3
    assert all(s.metadata["end_line"] - s.metadata["start_line"] < WINDOW_LINES for s in segments)
    assert segments[-1].metadata["end_line"] == 153
    yaml = code_segments("name: ci\non: push\n\n\njobs:\n  test: {}\n", ".github/ci.yml")
    assert [(s.metadata["kind"], s.metadata["language"], s.metadata["start_line"]) for s in yaml] == [
        ("lines", "yaml", 1)
    ]


def test_identifiers_are_split_into_the_words_they_are_made_of():
    assert identifier_parts("parseConfigFile") == ["parse", "config", "file"]
    assert identifier_parts("HTTPServer2") == ["http", "server", "2"]
    assert identifier_parts("load_user_keys") == ["load", "user", "keys"]
    assert identifier_parts("simple") == []


def write(root, files: dict[str, str | bytes]):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def test_a_repository_is_read_as_git_sees_it_and_secrets_are_refused(tmp_path):
    write(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\n!keep.log\n",
            "src/app.py": "def main():\n    return 1\n",
            "src/.gitignore": "generated_*.py\n",
            "src/generated_api.py": "X = 1\n",
            "debug.log": "noise\n",
            "keep.log": "kept\n",
            "build/out.py": "Y = 2\n",
            "node_modules/lib/index.js": "function f() {}\n",
            "package-lock.json": "{}\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "big.py": "x = 1\n" * 400,
            ".env": "TOKEN=abc\n",
            "deploy/keys.py": "AWS = 'AKIAABCDEFGHIJKLMNOP'\n",
            "docs/guide.md": "# Guide\n\nRun make test.\n",
            "package.json": '{"name": "shop", "scripts": {"test": "jest"}}\n',
        },
    )
    outcome = parse_paths([tmp_path], max_bytes=1000)
    read = sorted(item.segments[0].metadata.get("path", item.source.rsplit("/", 1)[-1]) for item in outcome.items)
    assert read == ["guide.md", "package.json", "src/app.py"]
    skipped = {s.path.relative_to(tmp_path).as_posix(): s.reason for s in outcome.skipped}
    assert skipped["debug.log"] == "in .gitignore" and skipped["src/generated_api.py"] == "in .gitignore"
    assert skipped["build"] == "folder: in .gitignore" or skipped["build"].startswith("folder: generated")
    assert skipped["node_modules"] == "folder: vendored (node_modules)"
    assert skipped["package-lock.json"] == "lock file" and skipped["logo.png"] == "unsupported type .png"
    assert skipped["big.py"].startswith("over the size limit")
    assert "keep.log" in skipped and skipped["keep.log"] == "unsupported type .log"  # un-ignored, but not text we read
    refused = {e.path.name: e.reason for e in outcome.errors}
    assert set(refused) == {".env", "keys.py"}
    assert "an AWS access key on line 1" in refused["keys.py"] and "nothing from it was stored" in refused["keys.py"]
    with pytest.raises(ParseError, match="looks minified or generated"):
        parse_data(b"var a=1;" * 400, "bundle.js", "bundle.js")
    with pytest.raises(ParseError, match="private key"):
        parse_data(b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "notes.txt", "notes.txt")


def test_the_digest_sync_compares_is_the_one_the_store_keeps(tmp_path):
    write(
        tmp_path,
        {
            "a.py": "def f():\n    pass\n",
            "b.md": "\ufeffNotes.",
            "c.html": "<p>Hi</p>",
            "d.json": '[{"speaker": "a", "text": "hello there"}]',
        },
    )
    for path in sorted(tmp_path.iterdir()):
        data = path.read_bytes()
        assert file_digest(data, path) == content_hash(parse_file(path, LIMIT, path.name))


def test_sync_reads_only_what_changed_and_forgets_what_is_gone(tmp_path, embedder):
    repo = tmp_path / "repo"
    write(
        repo,
        {
            "auth.py": 'def check_api_key(key):\n    """Refuse unknown API keys."""\n    return key in KEYS\n',
            "cache.py": "def cache_key(user):\n    return f'user:{user}'\n",
            "old.py": "def legacy_export():\n    return None\n",
            "README.md": "The shop service.\n",
        },
    )
    memory = Memory(tmp_path / "data", embedder=embedder)
    first = memory.sync(repo, "shop")
    assert len(first.new) == 4 and first.ingest.indexed >= 4
    again = memory.sync(repo, "shop")
    assert (again.new, again.changed, again.gone, again.unchanged, again.ingest.indexed) == ([], [], [], 4, 0)

    (repo / "cache.py").write_text("def cache_key(user, region):\n    return f'{region}:user:{user}'\n")
    (repo / "old.py").unlink()
    (repo / "auth.py").rename(repo / "keys.py")
    (repo / ".gitignore").write_text("README.md\n")
    changed = memory.sync(repo, "shop")
    names = lambda paths: sorted(p.rsplit("/", 1)[-1] for p in paths)  # noqa: E731
    assert names(changed.changed) == ["cache.py"] and names(changed.new) == ["keys.py"]
    assert names(changed.gone) == ["README.md", "auth.py", "old.py"]
    assert "3 gone" in changed.summary() and "1 changed" in changed.summary()
    live = [m.metadata.get("path") for m in memory.list_memories("shop", limit=100)]
    assert sorted(live) == ["cache.py", "keys.py"]
    assert not memory.search("legacy export", "shop", 5, filters={"path": "old.py"})
    [hit] = memory.search("cache key region", "shop", 1)
    assert "region" in hit.memory.text and hit.memory.location == "cache.py:1-2 cache_key"
    assert len(memory.history(hit.memory.id, "shop")) == 2  # the old version stays in its history

    (repo / "cache.py").write_text("def cache_key(user):\n    return f'user:{user}'\n")  # the edit undone
    undone = memory.sync(repo, "shop")
    assert names(undone.changed) == ["cache.py"]
    [hit] = memory.search("cache key", "shop", 1, filters={"path": "cache.py"})
    assert "region" not in hit.memory.text
    assert memory.sync(repo, "shop").unchanged == 2


def test_code_is_found_by_the_parts_of_its_names(tmp_path, embedder):
    repo = tmp_path / "repo"
    write(
        repo,
        {
            "config.js": "export function parseConfigFile(p) { return readFileSync(p); }\n",
            "other.js": "export function renderPage(html) { return html; }\n",
        },
    )
    memory = Memory(tmp_path / "data", embedder=embedder)
    memory.add_paths([repo], "web")
    space = memory.space("web")
    [found] = space.store.get(space.store.keyword_search("where is the config file parsed", 1))
    assert found.location == "config.js:1-1 parseConfigFile"
    [found] = space.store.get(space.store.keyword_search("renderPage", 1))
    assert found.metadata["symbol"] == "renderPage"


def test_a_class_the_question_names_is_not_the_subject_of_its_methods(tmp_path, embedder):
    """Code has no subjects: preferring every method of a named class put the right one first less
    often (benchmarks/code_recall.py); a note about the same name still has it as its subject."""
    repo = tmp_path / "repo"
    write(
        repo,
        {
            "widget.py": "class Widget:\n    def resize(self, width):\n        self.width = width\n\n"
            "    def paint(self, canvas):\n        canvas.draw(self)\n"
        },
    )
    memory = Memory(tmp_path / "data", embedder=embedder)
    memory.add_paths([repo], "code")
    store = memory.space("code").store
    assert len(store.get(store.keyword_search("Widget", 5))) >= 2
    assert len(store.subjects({"widget"})[1]) == 0
    [note] = memory.add("Widget opened a workshop in Riga.", "code")
    assert store.subjects({"widget"})[1].tolist() == [note]


CLAUDE_LOG = [
    {"type": "summary", "summary": "Fix flaky cache tests"},
    {
        "type": "user",
        "sessionId": "s1",
        "cwd": "/work/shop",
        "timestamp": "2025-05-01T10:00:00Z",
        "message": {"role": "user", "content": "The cache tests fail on CI. Find out why."},
    },
    {
        "type": "assistant",
        "timestamp": "2025-05-01T10:00:05Z",
        "message": {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look at the tests."},
                {"type": "tool_use", "name": "Read", "input": {"file_path": "/work/shop/tests/test_cache.py"}},
            ],
        },
    },
    {
        "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "content": "def test_hit(): ..."}]},
    },
    {
        "type": "assistant",
        "timestamp": "2025-05-01T10:02:00Z",
        "message": {
            "role": "assistant",
            "content": [
                {
                    "type": "text",
                    "text": "The bug was in the cache key: it left out the region, so two regions shared entries.",
                }
            ],
        },
    },
    {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "name": "Edit",
                    "input": {"file_path": "/work/shop/cache.py", "old_string": "a", "new_string": "b"},
                }
            ],
        },
    },
    {"type": "user", "isMeta": True, "message": {"role": "user", "content": "<command-name>/clear</command-name>"}},
    {
        "type": "user",
        "message": {"role": "user", "content": "We switched the tests to pytest-xdist, keep them independent."},
    },
]


def test_an_agents_session_log_keeps_what_was_said_and_the_files_touched(tmp_path):
    path = tmp_path / "session.jsonl"
    path.write_text("\n".join(json.dumps(entry) for entry in CLAUDE_LOG))
    item = parse_file(path, LIMIT)
    said = [(s.speaker, s.text) for s in item.segments]
    assert said == [
        ("summary", "Fix flaky cache tests"),
        ("user", "The cache tests fail on CI. Find out why."),
        ("assistant", "The bug was in the cache key: it left out the region, so two regions shared entries."),
        ("user", "We switched the tests to pytest-xdist, keep them independent."),
    ]
    bug = item.segments[2]
    assert bug.metadata["files"] == ["tests/test_cache.py", "cache.py"] and bug.time == "2025-05-01T10:02:00Z"
    assert item.metadata == {"agent": "claude-code", "session": "s1", "cwd": "/work/shop"}

    openai_style = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Rename the config loader."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "edit", "arguments": '{"path": "src/config.py"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "1", "content": "ok"},
        {"role": "assistant", "content": "Renamed load_cfg to load_config everywhere; the old name is gone."},
    ]
    item = parse_data(json.dumps(openai_style).encode(), "chat.json", "chat.json")
    assert [s.speaker for s in item.segments] == ["user", "assistant"]
    assert item.segments[1].metadata == {"files": ["src/config.py"]} and "load_config" in item.segments[1].text


def test_search_on_the_command_line_shows_path_lines_and_symbol(tmp_path, embedder):
    repo = tmp_path / "repo"
    write(repo, {"auth.py": 'def check_api_key(key):\n    """Refuse unknown API keys."""\n    return key in KEYS\n'})
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "120"}

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "imprint.cli", *args, "--data", str(tmp_path / "d")]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    added = run("add", str(repo), "--space", "shop")
    assert added.returncode == 0, added.stderr
    found = run("search", "where are API keys checked", "--space", "shop")
    assert "auth.py:1-3 check_api_key" in found.stdout and "return key in KEYS" in found.stdout
    synced = run("sync", str(repo), "--space", "shop")
    assert "0 new, 0 changed, 0 gone, 1 unchanged files" in synced.stdout


def test_a_coding_agent_recalls_code_and_its_own_decisions_over_mcp(tmp_path):
    repo = tmp_path / "repo"
    write(
        repo,
        {
            "auth.py": 'def check_api_key(key):\n    """Refuse unknown API keys."""\n    return key in KEYS\n',
            "render.py": "def render_page(html):\n    return html\n",
        },
    )
    data = tmp_path / "data"
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "imprint.cli", "add", str(repo), "--space", "shop", "--data", str(data)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    command = StdioServerParameters(
        command=sys.executable, env=env, args=["-m", "imprint.cli", "mcp", "--space", "shop", "--data", str(data)]
    )

    async def connection(*calls: tuple[str, dict]) -> list:
        async with Client(command) as mcp:
            return [await mcp.call_tool(name, arguments) for name, arguments in calls]

    code, stored = asyncio.run(
        connection(
            ("recall", {"query": "where are API keys checked", "k": 1}),
            (
                "remember",
                {"text": "Decision: API keys are checked in auth.check_api_key only; the routes never compare keys."},
            ),
        )
    )
    [symbol] = code.structured_content["memories"]
    assert symbol["location"] == "auth.py:1-3 check_api_key"
    [later] = asyncio.run(connection(("recall", {"query": "which function should compare API keys?", "k": 3})))
    texts = [m["text"] for m in later.structured_content["memories"]]
    assert any(t.startswith("Decision: API keys") for t in texts) and stored.structured_content["memory_ids"]
