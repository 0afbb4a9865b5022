"""The fast answer engine: llama.cpp on the GGUF base model, with each space's adapter as a GGUF LoRA.

On this CPU llama.cpp generates 2.6x faster than transformers and answers 7x faster with an
adapter (benchmarks/answer_latency.py, docs/benchmarks.md). Training stays
in transformers + peft; a promoted adapter is converted once (llm/gguf_lora.py), next to its
PEFT files, so it is deleted with them.

Activation memory: llama.cpp keeps the attention state (KV) of the last prompt and reuses its
longest common start with the next one, but a sliding-window model (Gemma 3) cannot cut a longer
prompt back to its start: its cache has let go of what the cut would need, and the answers drift.
So with `prefix=` the state is snapshotted exactly where a stable start ends (the context tier's
memories, prompt.py `context_prompt`), kept in a `PrefixCache` (activations.py), and loaded for
every later prompt with that start: a context answer computes only what follows it.
"""

import ctypes
import functools
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import ModelError, check_prompt_fits
from ..records import Generation, PrefixCache
from .gguf_lora import peft_to_gguf

GGUF_ADAPTER = "adapter.gguf"


class LlamaCppModel:
    """A GGUF model answering greedily; one per file and process (`shared`), thread-safe."""

    def __init__(self, gguf: Path, threads: int = 2, context: int = 0) -> None:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr

        self.path = Path(gguf)
        try:  # n_ctx=0: the context length the model was trained with
            with suppress_stdout_stderr(disable=False):  # llama.cpp prints setup lines to the terminal
                self._llm = Llama(
                    str(self.path),
                    n_ctx=context,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"llama.cpp could not load {self.path}: {error}") from error
        # what adapter tensor names need; from the loaded header (the gguf package's reader took 11 s)
        arch = self._llm.metadata["general.architecture"]
        self._arch = arch, int(self._llm.metadata[f"{arch}.block_count"])
        self._adapters: dict[str, tuple[int, object]] = {}  # adapter folder -> (its mtime, llama.cpp adapter)
        self._active: str | None = None
        self._lock = threading.Lock()

    @classmethod
    @functools.cache
    def shared(cls, gguf: Path, threads: int = 2, context: int = 0) -> "LlamaCppModel":
        return cls(gguf, threads, context)

    @property
    def context_limit(self) -> int:
        return self._llm.n_ctx()

    @property
    def instruct(self) -> bool:
        """Whether the file carries a chat template (an instruct model): it is asked in chat form."""
        return "tokenizer.chat_template" in self._llm.metadata

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=True))

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 48,
        stop: str = "\n",
        adapter: Path | None = None,
        temperature: float = 0.0,
        prefix: tuple[str, PrefixCache] | None = None,
    ) -> Generation:
        """Completion of `prompt` (greedy, or sampled at `temperature` > 0), cut at the first `stop`
        string, with an optional adapter. `prefix`: the stable start of `prompt` and where its
        computed state is kept."""
        check_prompt_fits(self.count_tokens(prompt), max_new_tokens, self.context_limit)
        if prefix is None or prefix[0] not in prompt:
            with self._lock:
                out = self._run(adapter, self._llm.create_completion, prompt, max_new_tokens, [stop], temperature)
            return _generation(out["choices"][0]["text"], out["usage"])
        return self._from_kept(adapter, prompt, prefix, max_new_tokens, [stop], temperature, add_bos=True)

    def chat(
        self,
        messages: list[dict[str, str]],
        max_new_tokens: int = 48,
        stop: str = "\n",
        temperature: float = 0.0,
        prefix: tuple[str, PrefixCache] | None = None,
    ) -> Generation:
        """The reply to `messages` in the model's own chat template (no adapter: instruct models read,
        they are not trained here). `prefix`: the stable start of the first message, as in `generate`."""
        prompt_tokens = sum(self.count_tokens(m["content"]) + 8 for m in messages)  # 8: a turn's markers
        check_prompt_fits(prompt_tokens, max_new_tokens, self.context_limit)
        rendered = self._chat_template(messages=messages) if prefix else None  # its text, so its start can be kept
        if prefix is None or rendered is None or prefix[0] not in rendered.prompt:
            with self._lock:
                out = self._run(None, self._llm.create_chat_completion, messages, max_new_tokens, [stop], temperature)
            return _generation(out["choices"][0]["message"]["content"] or "", out["usage"])
        return self._from_kept(
            None, rendered.prompt, prefix, max_new_tokens, [stop, *rendered.stop], temperature, add_bos=False
        )

    def _run(self, adapter: Path | None, create, prompt, max_new_tokens: int, stop: list[str], temperature: float):
        """`create` (a completion or chat completion of llama-cpp-python) with `adapter` on; its
        ValueError (e.g. a prompt the window cannot hold) becomes a ModelError. Under `_lock`."""
        self._use_adapter(adapter)
        try:
            return create(
                prompt,
                max_tokens=max_new_tokens,
                temperature=temperature,
                repeat_penalty=1.0,
                stop=[s for s in stop if s],
            )
        except ValueError as error:
            raise ModelError(f"llama.cpp: {error}") from error

    def _from_kept(
        self,
        adapter: Path | None,
        prompt: str,
        prefix: tuple[str, PrefixCache],
        max_new_tokens: int,
        stop: list[str],
        temperature: float,
        add_bos: bool,
    ) -> Generation:
        """The completion of `prompt`, its start's state loaded from where it is kept, extended and
        kept again when the start grew (or was not kept): only the rest is computed. The state is
        always a snapshot taken where the start ends, never the state of a longer prompt cut back:
        a sliding-window cache has already let go of what that cut would need."""
        text, cache = prefix
        tokens = self._llm.tokenize(prompt.encode(), add_bos=add_bos, special=True)
        cut = prompt.find(text)
        start = self._llm.tokenize(prompt[: cut + len(text)].encode(), add_bos=add_bos, special=True)
        start = start[: _common(tokens, start)]  # its last token may merge with what follows
        with self._lock:
            self._use_adapter(adapter)
            kept = self._restore(start, cache)
            if kept < len(start):
                self._llm.eval(start[kept:])
                self._save(cache)
            out = self._run(adapter, self._llm.create_completion, tokens, max_new_tokens, stop, temperature)
        return _generation(out["choices"][0]["text"], out["usage"], kept)

    def _restore(self, start: list[int], cache: PrefixCache) -> int:
        """Put the kept state on the context when its tokens begin `start`, and say how many they
        are; 0 (an empty context) when there is none, it is another start, or llama.cpp refuses it
        (damaged, or another model's: then it is dropped)."""
        llama_cpp = _llama_cpp()
        self._llm.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._llm.ctx), True)
        loaded = cache.load()
        if loaded is None:
            return 0
        tokens, state = loaded
        if not tokens or len(tokens) > len(start) or start[: len(tokens)] != tokens:
            return 0
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if not llama_cpp.llama_state_seq_set_data(self._llm.ctx, buffer, len(state), 0):
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._llm.ctx), True)
            cache.drop()
            return 0
        self._llm.input_ids[: len(tokens)] = tokens
        self._llm.n_tokens = len(tokens)
        self._llm._requires_eval = True  # sample only after the next prompt tokens are computed
        return len(tokens)

    def _save(self, cache: PrefixCache) -> None:
        """Keep the context's state (exactly the prompt start computed so far)."""
        llama_cpp = _llama_cpp()
        size = llama_cpp.llama_state_seq_get_size(self._llm.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._llm.ctx, buffer, size, 0)
        cache.save(self._llm.input_ids[: self._llm.n_tokens].tolist(), bytes(memoryview(buffer)[:written]))

    @functools.cached_property
    def _chat_template(self):
        """The file's own chat template, rendered to text (llama-cpp-python's formatter)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        vocab = self._llm._model
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        return Jinja2ChatFormatter(
            template=self._llm.metadata["tokenizer.chat_template"],
            eos_token=vocab.token_get_text(eos) if eos != -1 else "",
            bos_token=vocab.token_get_text(bos) if bos != -1 else "",
        )

    def _use_adapter(self, adapter: Path | None) -> None:
        """Put the adapter (converted and loaded once per version folder) on the context, or none."""
        import llama_cpp
        from llama_cpp._utils import suppress_stdout_stderr

        key = str(Path(adapter).resolve()) if adapter else None
        handle = None
        if key:
            # a version folder can be deleted (forget) and written again: never serve the old weights
            stamp = (Path(key) / "adapter_config.json").stat().st_mtime_ns
            loaded = self._adapters.get(key)
            if loaded is None or loaded[0] != stamp:
                converted = _converted(Path(key), self._arch)
                with suppress_stdout_stderr(disable=False):  # llama.cpp prints a line per tensor to the terminal
                    handle = llama_cpp.llama_adapter_lora_init(self._llm.model, str(converted).encode())
                if not handle:
                    raise ModelError(f"llama.cpp could not load the adapter {converted}")
                if loaded:
                    llama_cpp.llama_adapter_lora_free(loaded[1])
                self._adapters[key] = loaded = (stamp, handle)
                self._active = None  # reload even when the folder is the active one
            handle = loaded[1]
        if key == self._active:
            return
        if handle is None:
            failed = llama_cpp.llama_set_adapters_lora(self._llm.ctx, None, 0, None)
        else:
            failed = llama_cpp.llama_set_adapters_lora(
                self._llm.ctx, (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle), 1, (ctypes.c_float * 1)(1.0)
            )
        if failed:
            raise ModelError(f"llama.cpp could not switch to the adapter {adapter}")
        self._llm.reset()  # the cached prompt prefix was computed with other weights
        self._active = key


class GgufVocabulary:
    """A GGUF file's tokenizer and trained window alone (llama.cpp reads the vocabulary without the
    weights in ~0.6 s): what routing and packing count the reader's tokens with, so a first `ask` or
    `explain` never waits for a float copy of the model (a minute and 1.1 GB for Gemma 3 270M)."""

    instruct = False

    def __init__(self, gguf: Path) -> None:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr

        try:
            with suppress_stdout_stderr(disable=False):
                self._llm = Llama(str(gguf), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"llama.cpp could not read the vocabulary of {gguf}: {error}") from error
        arch = self._llm.metadata["general.architecture"]
        self.context_limit = int(self._llm.metadata[f"{arch}.context_length"])

    @classmethod
    @functools.cache
    def shared(cls, gguf: Path) -> "GgufVocabulary":
        return cls(gguf)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=True))


def _generation(text: str, usage: dict, cached: int = 0) -> Generation:
    return Generation(
        text=text.strip(),
        prompt_tokens=usage["prompt_tokens"],
        new_tokens=usage["completion_tokens"],
        cached_tokens=cached,
    )


def _llama_cpp():
    import llama_cpp

    return llama_cpp


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens two sequences share from their start."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _converted(adapter_dir: Path, arch: tuple[str, int]) -> Path:
    """The GGUF LoRA beside a PEFT adapter, written on first use."""
    target = adapter_dir / GGUF_ADAPTER
    source = adapter_dir / "adapter_model.safetensors"
    if not target.exists() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
        try:
            peft_to_gguf(adapter_dir, target, *arch)
        except ValueError as error:
            raise ModelError(f"cannot serve {adapter_dir} with llama.cpp: {error}") from error
    return target
