"""Convert a PEFT LoRA adapter into a llama.cpp LoRA (GGUF), so llama.cpp can answer with it.

llama.cpp answers 2.6x faster than transformers here, 7x with an adapter (docs/benchmarks.md).
The conversion only renames tensors (HF names -> GGUF names, via the gguf package's own map) and
records alpha; the low-rank matrices are written unchanged, as float32.
"""

import json
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

PEFT_PREFIX = "base_model.model."


def peft_to_gguf(adapter_dir: Path, target: Path, arch: str, blocks: int) -> Path:
    """Write `adapter_dir` (PEFT: adapter_config.json + adapter_model.safetensors) as a GGUF LoRA
    at `target`, atomically. Raises ValueError for adapters llama.cpp could not apply."""
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("use_rslora") or config.get("use_dora"):
        raise ValueError("rsLoRA and DoRA adapters have no llama.cpp equivalent here")
    names = gguf.get_tensor_name_map(_arch_enum(arch), blocks)
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    writer_tensors = []
    for key, value in sorted(tensors.items()):
        module, _, part = key.removeprefix(PEFT_PREFIX).rpartition(".lora_")
        gguf_name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if gguf_name is None or part not in ("A.weight", "B.weight"):
            raise ValueError(f"adapter tensor {key!r} has no llama.cpp counterpart")
        writer_tensors.append((f"{gguf_name}.lora_{part[0].lower()}", np.ascontiguousarray(value, dtype=np.float32)))

    partial = target.with_name(target.name + ".partial")
    writer = gguf.GGUFWriter(partial, arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for name, array in writer_tensors:
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(target)
    return target


def _arch_enum(arch: str) -> gguf.MODEL_ARCH:
    for value, name in gguf.MODEL_ARCH_NAMES.items():
        if name == arch:
            return value
    raise ValueError(f"llama.cpp does not know the architecture {arch!r}")
