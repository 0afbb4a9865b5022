"""llama.cpp answers like transformers: the base model, and a PEFT adapter converted to a GGUF LoRA."""

import os

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from imprint import Memory, Settings
from imprint.errors import ModelError
from imprint.llm.llamacpp import GGUF_ADAPTER, LlamaCppModel
from imprint.llm.local import gguf_file, greedy_generate, resolve_model_dir
from imprint.store.crypto import SpaceCipher
from imprint.weights.adapters import AdapterRegistry, Manifest

PROMPTS = [
    "Question: What is the capital of France?\nAnswer:",
    "Question: Who wrote Hamlet?\nAnswer:",
    "Question: What colour is the sky on a clear day?\nAnswer:",
]


@pytest.fixture(scope="module")
def engines(model):
    settings = Settings()
    gguf = gguf_file(settings.model, settings.cache_dir)
    base = AutoModelForCausalLM.from_pretrained(
        resolve_model_dir(settings.model, settings.cache_dir), dtype=torch.float32
    ).eval()  # its own copy: peft edits it
    return LlamaCppModel.shared(gguf), base


def random_adapter(base, folder, seed: int, strength: float):
    """A LoRA with random (non-zero) B matrices on the MLP: it changes answers, as training would."""
    torch.manual_seed(seed)
    config = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=["gate_proj", "up_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(strength)
    peft_model.save_pretrained(folder)
    return peft_model


def test_llama_cpp_answers_as_transformers_with_and_without_a_converted_adapter(engines, model, tmp_path):
    llama, base = engines
    expected_base = [greedy_generate(base, model.tokenizer, p, 12).text for p in PROMPTS]
    assert [llama.generate(p, 12).text for p in PROMPTS] == expected_base

    adapted = random_adapter(base, tmp_path / "v1", seed=0, strength=0.3)
    expected = [greedy_generate(adapted, model.tokenizer, p, 12).text for p in PROMPTS]
    assert expected != expected_base  # the adapter matters
    first = [llama.generate(p, 12, adapter=tmp_path / "v1").text for p in PROMPTS]
    assert first == expected
    assert (tmp_path / "v1" / GGUF_ADAPTER).exists()  # converted once, beside the PEFT files
    assert [llama.generate(p, 12).text for p in PROMPTS] == expected_base  # and off again

    # the same folder written again (forget, then a new consolidation): the new weights answer
    random_adapter(adapted.unload(), tmp_path / "v1", seed=1, strength=0.3)
    assert [llama.generate(p, 12, adapter=tmp_path / "v1").text for p in PROMPTS] != first


def test_memory_answers_with_llama_cpp_by_default_and_transformers_on_request(tmp_path, embedder, model):
    fast = Memory(tmp_path / "a", embedder=embedder, model=model)
    assert isinstance(fast.answerer, LlamaCppModel)
    slow = Memory(settings=Settings(data_dir=tmp_path / "b", engine="transformers"), embedder=embedder, model=model)
    assert slow.answerer is model
    for memory in (fast, slow):
        memory.add("Mira Okafor founded Zorblat Industries in 1987.", "s")
    question = "Who founded Zorblat Industries?"
    assert fast.ask(question, "s", strategy="index").text == slow.ask(question, "s", strategy="index").text
    with pytest.raises(ModelError, match="gguf"):
        Memory(  # noqa: B018
            settings=Settings(data_dir=tmp_path / "c", engine="llama.cpp", model=str(tmp_path)),
            embedder=embedder,
            model=model,
        ).answerer


def test_a_sealed_adapter_is_served_by_llama_cpp_from_its_decrypted_copy(engines, tmp_path):
    llama, _ = engines
    base = AutoModelForCausalLM.from_pretrained(
        resolve_model_dir(Settings().model, Settings().cache_dir), dtype=torch.float32
    ).eval()
    adapted = random_adapter(base, tmp_path / "plain", seed=2, strength=0.3)
    plain = [llama.generate(p, 12, adapter=tmp_path / "plain").text for p in PROMPTS]
    assert plain != [llama.generate(p, 12).text for p in PROMPTS]  # the adapter matters
    registry = AdapterRegistry(tmp_path / "data", "s", SpaceCipher(os.urandom(32), os.urandom(16)))
    registry.save(adapted, Manifest(1, "base", [1], "hash", {}, promoted=True, reason="test"))
    assert [llama.generate(p, 12, adapter=registry.readable(1)).text for p in PROMPTS] == plain
    on_disk = b"".join(path.read_bytes() for path in registry.path(1).rglob("*") if path.is_file())
    assert (registry.readable(1) / GGUF_ADAPTER).exists() and not (registry.path(1) / GGUF_ADAPTER).exists()
    assert b"lora_A" not in on_disk and b".lora_a" not in on_disk
