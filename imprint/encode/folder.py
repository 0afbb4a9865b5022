"""Which files of a folder to read, and why the others are left out.

A folder is read the way its owner's git would see it: its .gitignore files (nested ones too)
are honoured. Hidden files, vendored and generated folders, lock files, minified or generated
code, files over the size limit and links that lead out of the folder are skipped, each with its
reason. Files whose name says they hold credentials are refused (their content is checked too, when
read: secrets.py).
"""

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from ..text.secrets import secret_name

SKIPPED_FOLDERS = {
    "node_modules": "vendored",
    "bower_components": "vendored",
    "vendor": "vendored",
    "third_party": "vendored",
    "site-packages": "vendored",
    "venv": "a virtual environment",
    "__pycache__": "generated",
    "dist": "generated",
    "build": "generated",
    "target": "generated",
    "htmlcov": "generated",
}
LOCK_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "Cargo.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "flake.lock",
    "bun.lockb",
}
GENERATED_SUFFIXES = (".min.js", ".min.css", ".map", "_pb2.py", "_pb2_grpc.py", ".pb.go", ".generated.ts")


@dataclass
class Skipped:
    """A file or folder that was not read, and why."""

    path: Path
    reason: str


@dataclass
class Walk:
    files: list[Path]
    skipped: list[Skipped]
    refused: list[Skipped]  # files that look like they hold secrets


def walk(root: Path, max_bytes: int, readable: Callable[[Path], bool]) -> Walk:
    """The files under `root` to read, in a stable order; `readable(path)` says whether a file is of
    a type imprint reads (the others are skipped as unsupported)."""
    root = Path(root)
    real_root = root.resolve()
    result = Walk([], [], [])
    ignores: list[tuple[Path, pathspec.GitIgnoreSpec]] = []  # (folder, its .gitignore), outermost first
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        ignores = [(base, spec) for base, spec in ignores if base == here or base in here.parents]
        spec = _gitignore(here / ".gitignore")
        if spec is not None:
            ignores.append((here, spec))
        kept = []
        for name in sorted(subfolders):
            path = here / name
            reason = (
                "hidden"
                if name.startswith(".")
                else _link_reason(path, real_root)
                or _folder_reason(name)
                or ("in .gitignore" if _ignored(path, True, ignores) else None)
            )
            if reason:
                result.skipped.append(Skipped(path, f"folder: {reason}"))
            else:
                kept.append(name)
        subfolders[:] = kept
        for name in sorted(names):
            path = here / name
            if secret_name(name):
                result.refused.append(Skipped(path, "its name says it holds credentials"))
                continue
            reason = _link_reason(path, real_root) or _file_reason(path, ignores, max_bytes, readable)
            if reason:
                result.skipped.append(Skipped(path, reason))
            else:
                result.files.append(path)
    return result


def _link_reason(path: Path, real_root: Path) -> str | None:
    """Why a symbolic link is not followed: a memory of a folder holds only what is inside it (a link
    to /etc/passwd in a repository is not the repository's), and a folder inside it is read where it is."""
    if not path.is_symlink():
        return None
    target = path.resolve()
    if not target.is_relative_to(real_root):
        return "link outside the folder"
    return "link to a folder inside it (read where it is)" if target.is_dir() else None


def _file_reason(path: Path, ignores: list, max_bytes: int, readable: Callable[[Path], bool]) -> str | None:
    name = path.name
    if name.startswith("."):
        return "hidden"
    if _ignored(path, False, ignores):
        return "in .gitignore"
    if name in LOCK_FILES:
        return "lock file"
    if name.endswith(GENERATED_SUFFIXES):
        return "generated"
    try:
        info = os.stat(path)
    except OSError:
        return "cannot be read"
    if not stat.S_ISREG(info.st_mode):  # devices, FIFOs and sockets can block or never end
        return "not a regular file"
    if info.st_size > max_bytes:
        return f"over the size limit ({info.st_size:,} > {max_bytes:,} bytes, IMPRINT_MAX_FILE_BYTES)"
    if info.st_size == 0:
        return "empty"
    if not readable(path):
        return f"unsupported type {path.suffix.lower() or '(none)'}"
    return None


def _folder_reason(name: str) -> str | None:
    what = SKIPPED_FOLDERS.get(name)
    return f"{what} ({name})" if what else None


def _gitignore(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        return pathspec.GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None


def _ignored(path: Path, folder: bool, ignores: list[tuple[Path, pathspec.GitIgnoreSpec]]) -> bool:
    """git's answer: the deepest .gitignore with a rule for the path decides."""
    ignored = False
    for base, spec in ignores:
        relative = path.relative_to(base).as_posix() + ("/" if folder else "")
        include = spec.check_file(relative).include
        if include is not None:
            ignored = include
    return ignored
