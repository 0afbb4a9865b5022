"""imprint's optional parts and the pip extra that installs each (pyproject.toml): a feature whose
packages are missing says which extra to install instead of failing on an import deep inside it."""

import functools
import importlib

from .errors import MissingExtraError

EXTRAS = {  # extra -> the modules it installs that imprint imports
    "train": ("peft", "accelerate"),
    "serve": ("fastapi", "fastapi_offline", "uvicorn", "multipart", "jinja2", "mcp"),
    "postgres": ("psycopg", "psycopg_pool", "pgvector", "procrastinate"),
    "code": ("tree_sitter",),
}


def require(extra: str, feature: str) -> None:
    """Raise MissingExtraError naming `extra` when one of its modules does not import."""
    missing = _missing(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs the {extra!r} extra ({', '.join(missing)} not installed): pip install 'imprint[{extra}]'"
        )


def installed(extra: str) -> bool:
    return not _missing(extra)


@functools.cache
def _missing(extra: str) -> tuple[str, ...]:
    missing = []
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return tuple(missing)
