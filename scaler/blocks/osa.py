"""CSPOSA with partial in computational block: the YOLOv4-tiny stage (paper §3.2, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.conv import Conv
from scaler.blocks.registry import register_width_block


@dataclass(frozen=True)
class CSPOSAArgs:
    out_channels: int


class CSPOSA(nn.Module):
    """Routes the second half of its input through two 3×3 convs, concatenates both conv outputs
    (last first, as darknet's ``route -1,-2``) and mixes them with a 1×1 conv.

    The base 3×3 conv before it and the cross-stage concatenation after it are separate layers of
    the network, because the neck reads this block's output on its own (darknet layer 23).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str = "leaky") -> None:
        super().__init__()
        half = in_channels // 2
        self.cv1 = Conv(half, half, 3, 1, activation=activation)
        self.cv2 = Conv(half, half, 3, 1, activation=activation)
        self.cv3 = Conv(2 * half, out_channels, 1, 1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        partial = x[:, x.shape[1] // 2 :]
        first = self.cv1(partial)
        second = self.cv2(first)
        return self.cv3(torch.cat((second, first), dim=1))


register_width_block("CSPOSA", CSPOSA, CSPOSAArgs)
