"""Which engine generates local answers, and why: llama.cpp where it is proven to run, else transformers.

llama.cpp answers 3-5x faster here (README), but a build that does not fit this CPU kills the
process at the first token, so it is used only after `selfcheck` saw it generate in a child.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import ModelError
from . import selfcheck
from .local import gguf_file

log = logging.getLogger("imprint")


@dataclass(frozen=True)
class EngineChoice:
    name: str  # "llama.cpp" or "transformers"
    reason: str
    gguf: Path | None = None  # the file llama.cpp loads


def llama_cpp_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def choose_engine(settings: Settings) -> EngineChoice:
    """The engine for `settings.engine` on this machine; a failed self-check under `auto` falls back
    to transformers with one warning that says why and how to rebuild."""
    if settings.engine == "transformers":
        return EngineChoice("transformers", "IMPRINT_ENGINE=transformers")
    gguf = gguf_file(settings.model, settings.cache_dir)
    if gguf is None or not llama_cpp_installed():
        missing = "the model is not a .gguf file" if gguf is None else "llama-cpp-python is not installed"
        if settings.engine == "llama.cpp":
            raise ModelError(f"engine llama.cpp needs a .gguf model (or the packaged default) and "
                             f"llama-cpp-python: {missing}")
        return EngineChoice("transformers", missing)
    verdict = selfcheck.check(gguf, settings.cache_dir)
    if verdict.runs:
        return EngineChoice("llama.cpp", f"{verdict.reason} (check cached per build and CPU)", gguf)
    if settings.engine == "llama.cpp":
        raise ModelError(f"engine llama.cpp cannot run here: {verdict.reason}; {selfcheck.REBUILD_HINT}")
    log.warning("imprint: answering with transformers, not llama.cpp: %s; %s", verdict.reason, selfcheck.REBUILD_HINT)
    return EngineChoice("transformers", f"llama.cpp failed its self-check: {verdict.reason}")
