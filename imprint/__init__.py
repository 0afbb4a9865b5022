"""imprint: long-term memory for language models, in context, index and weights."""

import os

# torch (OpenMP) and numpy (OpenBLAS) share the cores in one search; spinning idle threads made
# each wait for the other (a 100k-vector scan went from 9 to 17 ms right after an embedding).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import Settings  # noqa: E402
from .errors import ImprintError, InputError, ModelError, NotFoundError, ParseError  # noqa: E402
from .memory import Answer, IngestReport, Memory  # noqa: E402
from .records import Chunk, Hit  # noqa: E402

__all__ = [
    "Answer",
    "Chunk",
    "Hit",
    "ImprintError",
    "IngestReport",
    "InputError",
    "Memory",
    "ModelError",
    "NotFoundError",
    "ParseError",
    "Settings",
]
