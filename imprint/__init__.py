"""imprint: long-term memory for language models, in context, index and weights."""

from .answer import Answer, AnswerOptions
from .config import VERSION, Settings
from .errors import (
    EncryptionError,
    ImprintError,
    InputError,
    MissingExtraError,
    ModelError,
    NotFoundError,
    ParseError,
)
from .forget import Forgotten
from .ingest import IngestReport
from .memory import Memory
from .records import Chunk, Hit

__version__ = VERSION

__all__ = [
    "Answer",
    "AnswerOptions",
    "Chunk",
    "EncryptionError",
    "Hit",
    "ImprintError",
    "Forgotten",
    "IngestReport",
    "InputError",
    "Memory",
    "MissingExtraError",
    "ModelError",
    "NotFoundError",
    "ParseError",
    "Settings",
]
