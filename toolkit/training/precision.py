"""Choosing mixed precision: ``auto`` means bf16 where the hardware computes it natively."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU has AVX512-BF16 or AMX (where bf16 autocast is much faster than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: be conservative
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_mixed_precision(requested: str, use_cpu: bool) -> str:
    """Map the recipe's ``train.mixed_precision`` to what Accelerate takes (no, bf16, fp16)."""
    if requested != "auto":
        return requested
    if not use_cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if use_cpu or not torch.cuda.is_available():
        return "bf16" if cpu_has_native_bf16() else "no"
    return "no"
