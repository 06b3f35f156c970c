"""Where and at what precision the encoder runs: one rule for training and the embedding job.

bf16 autocast pays where the hardware multiplies bf16 natively: CUDA GPUs, CPUs with Intel AMX
tiles (Xeon Sapphire Rapids and later), where oneDNN runs MiniLM's bf16 matmuls about 2.7x
faster than fp32, and CPUs with the AVX512-BF16 dot-product instructions (AMD Zen 4, Intel Cooper
Lake), where the embedding job runs 1.7x and a training step 1.5x faster than in fp32; both at a
mean cosine of 0.99998 to the fp32 vectors (``bench/embed.py``, ``bench/train.py``; results per
machine in bench/results). Elsewhere bf16 is emulated and slower than fp32, so ``auto`` stays in
fp32 there, and int8 dynamic quantisation (inference on CPU only) is the lever.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from recsys.errors import RecsysError

PRECISIONS = ("auto", "fp32", "bf16", "int8")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; an unusable explicit choice is a one-line error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecsysError(f"device {device!r} requested but torch sees no CUDA GPU")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise RecsysError(f"unknown device {device!r} (use auto, cpu or cuda)") from None
    if dev.type not in ("cpu", "cuda"):
        raise RecsysError(f"unknown device {device!r} (use auto, cpu or cuda)")
    return dev


def native_bf16(dev: torch.device) -> bool:
    """Whether ``dev`` multiplies bf16 in hardware (CUDA with bf16 support, or a CPU with AMX
    tiles or AVX512-BF16)."""
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    # Private probes, but the only ones torch offers; a torch without them simply gets fp32.
    probes = (getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return any(bool(probe()) for probe in probes if callable(probe))


def resolve_precision(precision: str, dev: torch.device, *, inference: bool = True) -> str:
    """``fp32``, ``bf16`` or ``int8`` for this device: ``auto`` is bf16 where native, else fp32.
    int8 (dynamic quantisation) is for CPU inference only."""
    if precision == "int8" and not inference:
        raise RecsysError("precision int8 is for embedding only; train with auto, fp32 or bf16")
    choices = PRECISIONS if inference else tuple(p for p in PRECISIONS if p != "int8")
    if precision not in choices:
        raise RecsysError(f"--precision {precision!r}: choose {', '.join(choices)}")
    if precision == "auto":
        return "bf16" if native_bf16(dev) else "fp32"
    if precision == "int8" and dev.type != "cpu":
        raise RecsysError("precision int8 (dynamic quantisation) runs on CPU only; use bf16 on a GPU, or --device cpu")
    return precision


def autocast(dev: torch.device, precision: str) -> Any:
    """The autocast context for a resolved ``precision`` (a no-op for fp32 and int8)."""
    if precision == "bf16":
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
