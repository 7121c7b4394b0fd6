"""Activation functions by name, including a faster Mish for CPU inference."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

from scaler.errors import SpecError

ACTIVATIONS: tuple[str, ...] = ("mish", "leaky", "silu", "relu", "linear")


class Mish(nn.Module):
    """Mish, x·tanh(softplus(x)) (Misra 2019), with torch's native kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.mish(x)


def fast_mish(x: torch.Tensor) -> torch.Tensor:
    """Mish with a single exp: tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2).

    Exact to float32 rounding; for x > 20 Mish(x) == x in float32, so clamping the exponent
    keeps it finite. In float16 n overflows from x ≈ 5.5, where Mish(x) == x already to within
    1e-4 (under float16's resolution), so the clamp is 5 there. About twice as fast as the native
    kernel on x86 CPUs (docs/benchmarks.md).
    """
    exp_x = torch.exp(x.clamp(max=5.0 if x.dtype == torch.float16 else 20.0))
    numerator = exp_x * (exp_x + 2.0)
    return x * (numerator / (numerator + 2.0))


@functools.cache
def fused_mish_kernel() -> Callable[[torch.Tensor], torch.Tensor]:
    """:func:`fast_mish` compiled by torch.compile into one fused loop (one read, one write per
    element instead of six), for any shape; falls back to eager where compiling fails.

    Built on first use (a few seconds, then cached by inductor), never at import time."""
    compiled = torch.compile(fast_mish, dynamic=True)
    try:
        with torch.no_grad():
            probe = torch.linspace(-30.0, 30.0, 64).view(1, 4, 4, 4)
            if not torch.allclose(compiled(probe), fast_mish(probe), rtol=1e-5, atol=1e-6):
                raise RuntimeError("compiled Mish disagrees with the eager one")
    except Exception as error:  # no compiler, unsupported platform: stay correct, just slower
        logging.getLogger(__name__).warning("fused Mish unavailable, using eager: %s", error)
        return fast_mish
    return compiled


def mish_kernel() -> Callable[[torch.Tensor], torch.Tensor]:
    """The fused kernel, unless ``SCALER_FUSED_MISH=0``: compiling it costs each new process a few
    seconds, worth it for real trials, not for short-lived ones (the test suite sets it)."""
    if os.environ.get("SCALER_FUSED_MISH", "1") == "0":
        return fast_mish
    return fused_mish_kernel()


class FastMish(nn.Module):
    """Deploy-form Mish: the values of :class:`Mish` from one exp, as one fused kernel when
    torch.compile works here (eager while tracing, exporting or compiling a whole graph)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
            return fast_mish(x)
        return mish_kernel()(x)


def check_activation(name: str, field: str = "activation") -> str:
    """Return ``name`` if it is a known activation, else raise :class:`SpecError`."""
    if name not in ACTIVATIONS:
        raise SpecError(field, f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (leaky uses slope 0.1 as in darknet)."""
    check_activation(name)
    if name == "mish":
        return Mish()
    if name == "leaky":
        return nn.LeakyReLU(0.1, inplace=True)
    if name == "silu":
        return nn.SiLU(inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    return nn.Identity()
