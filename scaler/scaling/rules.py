"""The reference rounding rules for depth and width (spec §1.5)."""

from __future__ import annotations

import math

WIDTH_DIVISOR = 8


def scale_depth(repeats: int, depth_multiple: float) -> int:
    """``max(round(n·depth_multiple), 1)`` for n > 1 (Python's banker's rounding); n ≤ 1 is kept."""
    if repeats <= 1:
        return repeats
    return max(round(repeats * depth_multiple), 1)


def scale_width(channels: int, width_multiple: float, divisor: int = WIDTH_DIVISOR) -> int:
    """``ceil(c·width_multiple / 8)·8``: widths stay multiples of 8 and never round down."""
    return math.ceil(channels * width_multiple / divisor) * divisor


def repeats_from_exponent(depth_exponent: int) -> int:
    """Paper §4.3: a stage of depth scale 2^ds holds 2^ds − 1 residual layers."""
    return 2**depth_exponent - 1
