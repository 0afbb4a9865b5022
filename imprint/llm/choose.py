"""Which models a Memory uses, and why: the local model, the answer engine, the reader, a teacher.

llama.cpp answers 3-5x faster here (docs/benchmarks.md), but a build that does not fit this CPU kills the
process at the first token, so it is used only after `selfcheck` saw it generate in a child.
Every model loads on first use: listing or searching a space never waits for one.
"""

import functools
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import InputError, ModelError
from ..records import TextEmbedder, TextModel
from . import selfcheck
from .embed import Embedder
from .install import EMBEDDING_GEMMA, SPLADE_TINY, installed_path, reader_file
from .llamacpp import GgufVocabulary, LlamaCppModel
from .local import LocalModel, gguf_file, model_folder, resolve_model_dir
from .remote import RemoteModel
from .sentence import SentenceEmbedder
from .sparse import SparseEncoder

MINILM = "all-MiniLM-L6-v2"
EMBEDDING_GEMMA_WEAK = 0.40  # LoCoMo: answerable questions 0.50 and up in 95%; "hi" 0.33, "thanks" 0.34

log = logging.getLogger("imprint")


@dataclass(frozen=True)
class EngineChoice:
    name: str  # "llama.cpp" or "transformers"
    reason: str
    gguf: Path | None = None  # the file llama.cpp loads


def llama_cpp_installed() -> bool:
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
            raise ModelError(
                f"engine llama.cpp needs a .gguf model (or the packaged default) and llama-cpp-python: {missing}"
            )
        return EngineChoice("transformers", missing)
    verdict = selfcheck.check(gguf, settings.cache_dir)
    if verdict.runs:
        return EngineChoice("llama.cpp", f"{verdict.reason} (check cached per build and CPU)", gguf)
    if settings.engine == "llama.cpp":
        raise ModelError(f"engine llama.cpp cannot run here: {verdict.reason}; {selfcheck.REBUILD_HINT}")
    log.warning("imprint: answering with transformers, not llama.cpp: %s; %s", verdict.reason, selfcheck.REBUILD_HINT)
    return EngineChoice("transformers", f"llama.cpp failed its self-check: {verdict.reason}")


def embedder_name(settings: Settings) -> str:
    return settings.embedder or (EMBEDDING_GEMMA.name if settings.profile == "quality" else MINILM)


def teacher_name_or_none(settings: Settings, asked: str | None = None) -> str | None:
    """Who writes extra training questions and extracted facts: `asked`, else IMPRINT_TEACHER, else
    the profile's. The quality profile's is its 1.5B reader ('local'): its questions took SQuAD
    closed-book exact match from 54% to 100% of the base's open-book score; the small profile has
    none (Gemma 270M wrote 0.5 usable pairs a memory: docs/benchmarks.md). 'off': none."""
    teacher = asked or settings.teacher or ("local" if settings.profile == "quality" else None)
    return None if teacher == "off" else teacher


def choose_embedder(settings: Settings) -> TextEmbedder:
    """The embedder IMPRINT_EMBEDDER or the profile names (nothing is loaded until it embeds)."""
    name = embedder_name(settings)
    if name == MINILM:
        return Embedder(cache_dir=settings.cache_dir)
    if name == EMBEDDING_GEMMA.name:
        folder = installed_path(EMBEDDING_GEMMA, settings.cache_dir, "embedding with")
        # LoCoMo evidence recall@10 (benchmarks/locomo_recall.py): dense alone 0.72; fused with BM25 at
        # equal weight 0.69, at 3:1 0.72; the turn before mixed into a turn's key 0.67: not mixed
        return SentenceEmbedder(
            folder, name, EMBEDDING_GEMMA_WEAK, EMBEDDING_GEMMA.sha256, settings.threads, dense_weight=3.0
        )
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise InputError(f"IMPRINT_EMBEDDER {name!r} is neither {MINILM}, {EMBEDDING_GEMMA.name} nor a model folder")
    # its similarity scale is unknown: MiniLM's floor until IMPRINT_MIN_EVIDENCE says otherwise (answer.py)
    return SentenceEmbedder(folder, folder.name, Embedder.weak_similarity, threads=settings.threads)


def reranker(embedder: TextEmbedder, settings: Settings) -> Embedder:
    """Whose token vectors rerank (recall/rerank.py): MiniLM's, whatever the space's embedder; in
    ONNX Runtime it reads 50 candidates in ~0.2 s, where EmbeddingGemma takes ~3 s."""
    return embedder if isinstance(embedder, Embedder) else Embedder(cache_dir=settings.cache_dir)


def sparse_encoder(settings: Settings) -> SparseEncoder | None:
    """SPLADE-tiny when it is installed and IMPRINT_SPARSE allows it (None: ask fuses two orders)."""
    if not settings.sparse or not SPLADE_TINY.installed(settings.cache_dir):
        return None
    return SparseEncoder(SPLADE_TINY.path(settings.cache_dir))


class Models:
    """The models of one Memory, each made on first use."""

    def __init__(self, settings: Settings, model: LocalModel | None = None) -> None:
        self.settings = settings
        self.model = model or LocalModel(settings.model, settings.cache_dir, settings.threads)  # trains

    @functools.cached_property
    def engine(self) -> EngineChoice:
        """Which engine answers locally, and why (llama.cpp only once proven to run on this CPU)."""
        return choose_engine(self.settings)

    @functools.cached_property
    def answerer(self) -> LocalModel | LlamaCppModel:
        """The local model that generates answers, with adapters: llama.cpp on the GGUF file when it
        runs here, else transformers (the training model)."""
        if self.engine.name == "llama.cpp":
            return LlamaCppModel.shared(self.engine.gguf, self.settings.threads)
        return self.model

    @functools.cached_property
    def reader(self) -> TextModel:
        """The model that reads retrieved memories: a configured server, or the local answerer.
        Adapters always run locally."""
        s = self.settings
        if s.answer_url:
            return RemoteModel(s.answer_url, s.answer_model, s.remote_api_key, s.context_tokens or 8192)
        return self._local_reader()

    def _local_reader(self) -> TextModel:
        """The separate .gguf reader (IMPRINT_READER or the profile's) on llama.cpp, else the answerer."""
        gguf = self.reader_gguf
        if gguf is None:
            return self.answerer
        if self.engine.name != "llama.cpp":
            raise ModelError(f"the reader {gguf.name} runs on llama.cpp, which cannot run here: {self.engine.reason}")
        return LlamaCppModel.shared(gguf, self.settings.threads, self.settings.reader_context)

    @property
    def counter(self) -> TextModel:
        """What counts the reader's tokens and knows its window without loading weights: the server or
        a separate reader, else the answer model's vocabulary (llama.cpp reads it from the GGUF file
        without its weights; transformers from the model folder)."""
        separate = self.settings.answer_url or self.reader_gguf is not None
        if separate:
            return self.reader
        return GgufVocabulary.shared(self.engine.gguf) if self.engine.name == "llama.cpp" else self.model

    @functools.cached_property
    def reader_gguf(self) -> Path | None:
        """The separate .gguf file that reads memories (IMPRINT_READER or the profile's); None: the
        base model reads. Looked up once, as the reader it names is made once."""
        return reader_file(self.settings)

    def teacher(self, teacher: str | None, needed_by: str) -> TextModel:
        """The model `teacher` names: 'local' (the local reader: the quality profile's 1.5B model, else the
        answer model), a .gguf file (on llama.cpp, whoever reads) or an OpenAI-compatible server URL."""
        if not teacher:
            raise InputError(
                f"{needed_by} needs a teacher model: set IMPRINT_TEACHER to 'local', a .gguf file or a server URL"
            )
        s = self.settings
        if teacher == "local":
            return self._local_reader()
        if teacher.endswith(".gguf"):
            gguf = Path(teacher).expanduser()
            if not gguf.is_file():
                raise InputError(f"the teacher model file {gguf} does not exist (IMPRINT_TEACHER)")
            if self.engine.name != "llama.cpp":
                raise ModelError(
                    f"the teacher {gguf.name} runs on llama.cpp, which cannot run here: {self.engine.reason}"
                )
            return LlamaCppModel.shared(gguf, s.threads, s.reader_context)
        return RemoteModel(teacher, s.teacher_model, s.remote_api_key)

    def teacher_name(self, teacher: str) -> str:
        """What names the model `teacher` picks, so what it wrote is not reused for another one."""
        if teacher == "local":
            return str(self.reader_gguf or self.settings.model)
        return teacher if teacher.endswith(".gguf") else f"{teacher} {self.settings.teacher_model}"

    def model_dir(self) -> Path:
        """The configured base model's folder: what adapters are trained on (made from a GGUF file once)."""
        return resolve_model_dir(self.settings.model, self.settings.cache_dir)

    def model_name(self) -> str:
        """What names the base model adapters must match, without making its folder."""
        return str(model_folder(self.settings.model, self.settings.cache_dir))
