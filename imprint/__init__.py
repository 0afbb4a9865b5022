"""imprint: long-term memory for language models, in context, index and weights."""

from .config import Settings
from .errors import ImprintError, InputError, ModelError, NotFoundError, ParseError
from .memory import Answer, Forgotten, IngestReport, Memory
from .records import Chunk, Hit

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Chunk",
    "Hit",
    "ImprintError",
    "Forgotten",
    "IngestReport",
    "InputError",
    "Memory",
    "ModelError",
    "NotFoundError",
    "ParseError",
    "Settings",
]
