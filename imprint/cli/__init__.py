"""The `imprint` command line: typer for arguments, rich for output. The commands live in one module
per concern; importing them registers them on `app`."""

from . import memory_commands, model_commands, service_commands, weight_commands  # noqa: F401  (they register their commands)
from .base import app

__all__ = ["app"]
