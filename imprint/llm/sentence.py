"""A sentence-transformers embedder read from a local folder: EmbeddingGemma-300M of the quality
profile (`imprint models install quality`), or any model folder IMPRINT_EMBEDDER names.

EmbeddingGemma finds what MiniLM misses (LoCoMo dense recall@10 72 against 42, ../shared/MODELS.md)
but costs ~0.1 s per question and ~11 memories/s on 2 cores, so it is the quality profile's, not the
default. It embeds questions and memories with different prompts ("task: search result | query: "
and "title: none | text: "), which the folder's own configuration names; a model without them
embeds both as they are.
"""

import functools
import hashlib
import json
import threading
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..records import EmbedderRecord


class SentenceEmbedder:
    """Unit vectors from a sentence-transformers folder, loaded on first use, on the CPU."""

    def __init__(
        self,
        folder: Path,
        name: str,
        weak_similarity: float,
        fingerprint: str | None = None,
        threads: int = 2,
        batch_size: int = 16,
        context_weight: float = 0.0,
        dense_weight: float = 1.0,
    ) -> None:
        self.folder = Path(folder)
        if not (self.folder / "modules.json").is_file():
            raise ModelError(f"{self.folder} is not a sentence-transformers model folder (no modules.json)")
        self.name = name
        self.weak_similarity = weak_similarity
        self.context_weight = context_weight
        self.dense_weight = dense_weight
        self._fingerprint = fingerprint
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @functools.cached_property
    def max_tokens(self) -> int:
        config = self.folder / "sentence_bert_config.json"
        return int(json.loads(config.read_text()).get("max_seq_length", 512)) if config.is_file() else 512

    @functools.cached_property
    def _model(self):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        try:
            return SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        except (OSError, ValueError) as error:
            raise ModelError(f"could not load the embedder in {self.folder}: {error}") from error

    @functools.cached_property
    def _counter(self):
        """The folder's tokenizer alone (counting tokens never waits for the weights)."""
        from tokenizers import Tokenizer

        path = self.folder / "tokenizer.json"
        if not path.is_file():
            return None
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_padding()  # a file may pad every text to a fixed length (MiniLM's says 128)
        tokenizer.no_truncation()  # the chunker needs whole lengths
        return tokenizer

    @functools.cached_property
    def record(self) -> EmbedderRecord:
        return EmbedderRecord(
            self.name, int(self._model.get_embedding_dimension()), self._fingerprint or folder_fingerprint(self.folder)
        )

    def count_tokens(self, text: str) -> int:
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of memories, in order."""
        return self._encode(texts, "document")

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query")[0]

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        with self._lock:  # one model, shared by a server's threads
            model = self._model
            named = prompt if prompt in (model.prompts or {}) else None
            vectors = model.encode(
                texts,
                prompt_name=named,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def folder_fingerprint(folder: Path) -> str:
    """A cheap identity of a model folder: its files' names and sizes (hashing a GB at start-up is not)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}\0{path.stat().st_size}\n".encode())
    return "files " + digest.hexdigest()[:16]
