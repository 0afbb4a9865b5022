"""Train in bf16 where the CPU does bf16 fast, in fp32 where it does not: chosen by a measured probe.

On a CPU with AVX512-BF16 or AMX a bf16 matmul is 2.8-5.4x faster than fp32; on one without them it
is ~3x slower (../shared/MODELS.md). Flags in /proc/cpuinfo say what exists, not what torch's
kernels use, so a short matmul timing decides (~0.3 s, once per process). `TrainConfig.dtype`
("fp32" or "bf16") overrides it. Decoding, one token at a time, is another matter: there bf16 was
3.3x slower on the same CPU (greedy answers to 64 questions: 40 s vs 12 s), so generation runs in
fp32 (`decoding_in_fp32`).
"""

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..errors import InputError
from .plan import DTYPES

_SIZE = 1024
_NEEDED_SPEEDUP = 1.3  # bf16 must win clearly: its weights and activations round


def matmul_seconds(dtype: torch.dtype, repeats: int = 5) -> float:
    """The fastest of `repeats` 1024x1024 matmuls in `dtype`, after a warm-up (the fastest: a
    busy core slows single runs, not the kernel)."""
    a, b = torch.randn(_SIZE, _SIZE, dtype=dtype), torch.randn(_SIZE, _SIZE, dtype=dtype)
    a @ b  # warm-up: the first call picks kernels
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        timings.append(time.perf_counter() - started)
    return min(timings)


@functools.cache
def _bf16_pays() -> bool:
    """Measured once per process, so every caller trains and compares in the same dtype."""
    return matmul_seconds(torch.float32) / matmul_seconds(torch.bfloat16) >= _NEEDED_SPEEDUP


def train_dtype(chosen: str = "auto") -> torch.dtype:
    """`chosen`, or for "auto" bf16 if this CPU multiplies in bf16 at least 1.3x faster than fp32."""
    if chosen not in DTYPES:
        raise InputError(f"the training dtype must be one of {', '.join(DTYPES)}, not {chosen!r}")
    if chosen != "auto":
        return torch.bfloat16 if chosen == "bf16" else torch.float32
    return torch.bfloat16 if _bf16_pays() else torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return "bf16" if dtype == torch.bfloat16 else "fp32"


@contextmanager
def decoding_in_fp32(model: torch.nn.Module) -> Iterator[None]:
    """The frozen weights in fp32 while the block runs, then back in their dtype (bf16 -> fp32 ->
    bf16 is exact); the trained (LoRA) weights are fp32 already."""
    frozen = [p for p in model.parameters() if not p.requires_grad and p.dtype != torch.float32]
    dtypes = [p.dtype for p in frozen]
    for p in frozen:
        p.data = p.data.float()
    try:
        yield
    finally:
        for p, dtype in zip(frozen, dtypes):
            p.data = p.data.to(dtype)
