"""The `imprint` command line: typer for arguments, rich for output. The commands live in one module
per concern; importing them registers them on `app`."""

from . import (  # noqa: F401  (they register their commands)
    memory_commands,
    model_commands,
    service_commands,
    space_commands,
    weight_commands,
)
from .base import app

__all__ = ["app"]
