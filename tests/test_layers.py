"""Data flows one way: no module imports from a layer above its own (docs/architecture.md)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "imprint"
LAYERS = [  # lowest first; a module may import from its own package and from lower layers
    {"records", "config", "errors", "progress"},
    {"text", "extras"},
    {"encode", "llm", "prompt", "filters"},
    {"store"},
    {"recall", "weights", "activations"},
    {"spaces"},
    {"ingest", "answer", "forget"},
    {"sync", "reindex"},
    {"memory"},
    {"jobs"},
    {"serve", "bench", "doctor"},
    {"demo"},
    {"cli", "__init__"},
]


def layer(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part in names)


def imported(path: Path) -> set[str]:
    """The top-level imprint parts a module imports (relative or absolute)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1
    parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to the package root
                up = node.level - 1
                if up < depth:  # within its own package
                    continue
                target = (node.module or "").split(".")[0]
                if target:
                    parts.add(target)
                else:
                    parts.update(alias.name for alias in node.names)
            elif (node.module or "").startswith("imprint."):
                parts.add(node.module.split(".")[1])
    return parts


def test_no_import_runs_upward():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for part in imported(path) - {own}:
            if layer(part) >= layer(own):
                upward.append(f"{path.relative_to(PACKAGE)} imports {part}")
    assert not upward, upward
