"""Bottleneck: the Darknet residual layer (1×1 reduce, 3×3 expand, optional shortcut)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.conv import Conv
from scaler.blocks.registry import register_width_block


@dataclass(frozen=True)
class BottleneckArgs:
    out_channels: int
    shortcut: bool = True
    groups: int = 1
    expansion: float = 0.5


class Bottleneck(nn.Module):
    """cv1 Conv 1×1 (in → out·expansion), cv2 Conv 3×3 (→ out); residual add iff shortcut and in == out."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        shortcut: bool = True,
        groups: int = 1,
        expansion: float = 0.5,
        activation: str = "mish",
    ) -> None:
        super().__init__()
        hidden_channels = int(out_channels * expansion)
        self.cv1 = Conv(in_channels, hidden_channels, 1, 1, activation=activation)
        self.cv2 = Conv(hidden_channels, out_channels, 3, 1, groups=groups, activation=activation)
        self.add = shortcut and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


def bottleneck_stack(
    channels: int, repeats: int, shortcut: bool, groups: int, activation: str
) -> nn.Sequential:
    """``repeats`` Bottlenecks of constant width with expansion 1.0, as inside the CSP blocks."""
    return nn.Sequential(
        *(
            Bottleneck(channels, channels, shortcut, groups, expansion=1.0, activation=activation)
            for _ in range(repeats)
        )
    )


register_width_block("Bottleneck", Bottleneck, BottleneckArgs)
