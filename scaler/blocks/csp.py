"""Cross Stage Partial blocks: BottleneckCSP (backbone stages) and BottleneckCSP2 (CSP-ized PAN).

Channel maths and forward paths follow ../shared/spec/scaled-yolov4-reference.md §1.4. The
concatenation batch norm covers both halves, as in the released PyTorch models.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.activations import make_activation
from scaler.blocks.bottleneck import bottleneck_stack
from scaler.blocks.conv import Conv
from scaler.blocks.norm import batch_norm, fold_batch_norm
from scaler.blocks.registry import register_width_block


@dataclass(frozen=True)
class CSPArgs:
    out_channels: int
    shortcut: bool = True
    groups: int = 1
    expansion: float = 0.5


@dataclass(frozen=True)
class CSP2Args:
    out_channels: int
    shortcut: bool = False
    groups: int = 1
    expansion: float = 0.5


class BottleneckCSP(nn.Module):
    """y1 = cv3(m(cv1(x))), y2 = cv2(x), out = cv4(act(bn(cat(y1, y2)))); hidden = out·expansion."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        repeats: int = 1,
        shortcut: bool = True,
        groups: int = 1,
        expansion: float = 0.5,
        activation: str = "mish",
    ) -> None:
        super().__init__()
        hidden_channels = int(out_channels * expansion)
        self.cv1 = Conv(in_channels, hidden_channels, 1, 1, activation=activation)
        self.cv2: nn.Conv2d = nn.Conv2d(in_channels, hidden_channels, 1, 1, bias=False)
        self.cv3: nn.Conv2d = nn.Conv2d(hidden_channels, hidden_channels, 1, 1, bias=False)
        self.cv4 = Conv(2 * hidden_channels, out_channels, 1, 1, activation=activation)
        self.bn: nn.Module = batch_norm(2 * hidden_channels)
        self.act = make_activation(activation)
        self.m = bottleneck_stack(hidden_channels, repeats, shortcut, groups, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y1 = self.cv3(self.m(self.cv1(x)))
        y2 = self.cv2(x)
        return self.cv4(self.act(self.bn(torch.cat((y1, y2), dim=1))))

    def fuse_for_deploy(self) -> None:
        """Fold both halves of the concatenation BN into the plain convs cv3 and cv2."""
        if isinstance(self.bn, nn.BatchNorm2d):
            hidden = self.cv3.out_channels
            self.cv3 = fold_batch_norm(self.cv3, self.bn, slice(0, hidden))
            self.cv2 = fold_batch_norm(self.cv2, self.bn, slice(hidden, 2 * hidden))
            self.bn = nn.Identity()


class BottleneckCSP2(nn.Module):
    """x1 = cv1(x); out = cv3(act(bn(cat(m(x1), cv2(x1))))); hidden = out (no shortcut by default)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        repeats: int = 1,
        shortcut: bool = False,
        groups: int = 1,
        expansion: float = 0.5,
        activation: str = "mish",
    ) -> None:
        super().__init__()
        del expansion  # accepted for yaml compatibility; the released block uses hidden = out
        hidden_channels = int(out_channels)
        self.cv1 = Conv(in_channels, hidden_channels, 1, 1, activation=activation)
        self.cv2: nn.Conv2d = nn.Conv2d(hidden_channels, hidden_channels, 1, 1, bias=False)
        self.cv3 = Conv(2 * hidden_channels, out_channels, 1, 1, activation=activation)
        self.bn: nn.Module = batch_norm(2 * hidden_channels)
        self.act = make_activation(activation)
        self.m = bottleneck_stack(hidden_channels, repeats, shortcut, groups, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.cv1(x)
        y1 = self.m(x1)
        y2 = self.cv2(x1)
        return self.cv3(self.act(self.bn(torch.cat((y1, y2), dim=1))))


register_width_block("BottleneckCSP", BottleneckCSP, CSPArgs, repeats_inside=True)
register_width_block("BottleneckCSP2", BottleneckCSP2, CSP2Args, repeats_inside=True)
