"""JSON caches of what a model wrote once (the base's control answers and its own questions, a
teacher's questions per memory). A file is written whole or not at all, and one that cannot be read
counts as not written: a process killed mid-write costs the next consolidation a recomputation,
never a failure."""

import json
import os
from pathlib import Path
from typing import Any


def read_json_cache(file: Path) -> Any | None:
    """What `file` holds, or None when it is missing or unreadable."""
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return None


def write_json_cache(file: Path, value: Any) -> None:
    """Write `value` beside `file` and move it into place, so readers see the old file or the new one."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f"{file.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(value, indent=1))
    partial.replace(file)
