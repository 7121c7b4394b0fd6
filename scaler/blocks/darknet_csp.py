"""DarknetCSP: a CSPDarknet53 stage of the original YOLOv4 (darknet yolov4.cfg).

Unlike BottleneckCSP, every conv here is a full Conv (BN + activation) and there is no
concatenation BN: part 2 = cv2(x); part 1 = cv3(m(cv1(x))); out = cv4(cat(part 1, part 2)).
The first stage keeps the full width in both parts (hidden = out) with narrow residual layers
(expansion 0.5); later stages split the width in half with residual layers of expansion 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.bottleneck import Bottleneck
from scaler.blocks.conv import Conv
from scaler.blocks.registry import register_width_block


@dataclass(frozen=True)
class DarknetCSPArgs:
    out_channels: int
    hidden_ratio: float = 0.5
    bottleneck_expansion: float = 1.0


class DarknetCSP(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        repeats: int = 1,
        hidden_ratio: float = 0.5,
        bottleneck_expansion: float = 1.0,
        activation: str = "mish",
    ) -> None:
        super().__init__()
        hidden = int(out_channels * hidden_ratio)
        self.cv1 = Conv(in_channels, hidden, 1, 1, activation=activation)
        self.cv2 = Conv(in_channels, hidden, 1, 1, activation=activation)
        self.m = nn.Sequential(
            *(
                Bottleneck(hidden, hidden, True, expansion=bottleneck_expansion, activation=activation)
                for _ in range(repeats)
            )
        )
        self.cv3 = Conv(hidden, hidden, 1, 1, activation=activation)
        self.cv4 = Conv(2 * hidden, out_channels, 1, 1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv4(torch.cat((self.cv3(self.m(self.cv1(x))), self.cv2(x)), dim=1))


register_width_block("DarknetCSP", DarknetCSP, DarknetCSPArgs, repeats_inside=True)
