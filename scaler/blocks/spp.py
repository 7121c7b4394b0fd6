"""Spatial pyramid pooling: SPP (original YOLOv4, pooling only) and SPPCSP (CSP-ized, Scaled-YOLOv4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.activations import make_activation
from scaler.blocks.conv import Conv
from scaler.blocks.norm import batch_norm
from scaler.blocks.registry import BLOCKS, BlockType, register_width_block


def _pools(kernels: tuple[int, ...]) -> nn.ModuleList:
    return nn.ModuleList(nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2) for k in kernels)


@dataclass(frozen=True)
class SPPArgs:
    kernels: tuple[int, ...] = (5, 9, 13)


class SPP(nn.Module):
    """Darknet SPP: cat(maxpool_k(x) for the largest k first, ..., x); channels ×(len(kernels)+1)."""

    def __init__(self, kernels: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        self.m = _pools(tuple(sorted(kernels, reverse=True)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([pool(x) for pool in self.m] + [x], dim=1)


@dataclass(frozen=True)
class SPPCSPArgs:
    out_channels: int
    shortcut: bool = False
    groups: int = 1
    expansion: float = 0.5
    kernels: tuple[int, ...] = (5, 9, 13)


class SPPCSP(nn.Module):
    """CSP-ized SPP: y1 = cv6(cv5(cat[x1, pools(x1)])) with x1 = cv4(cv3(cv1(x))); y2 = cv2(x)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion: float = 0.5,
        kernels: tuple[int, ...] = (5, 9, 13),
        activation: str = "mish",
    ) -> None:
        super().__init__()
        hidden = int(2 * out_channels * expansion)
        self.cv1 = Conv(in_channels, hidden, 1, 1, activation=activation)
        self.cv2: nn.Conv2d = nn.Conv2d(in_channels, hidden, 1, 1, bias=False)
        self.cv3 = Conv(hidden, hidden, 3, 1, activation=activation)
        self.cv4 = Conv(hidden, hidden, 1, 1, activation=activation)
        self.m = _pools(kernels)
        self.cv5 = Conv((len(kernels) + 1) * hidden, hidden, 1, 1, activation=activation)
        self.cv6 = Conv(hidden, hidden, 3, 1, activation=activation)
        self.bn: nn.Module = batch_norm(2 * hidden)
        self.act = make_activation(activation)
        self.cv7 = Conv(2 * hidden, out_channels, 1, 1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y1 = self.cv6(self.cv5(torch.cat([x1] + [pool(x1) for pool in self.m], dim=1)))
        y2 = self.cv2(x)
        return self.cv7(self.act(self.bn(torch.cat((y1, y2), dim=1))))


BLOCKS.register(
    BlockType(
        name="SPP",
        args_type=SPPArgs,
        build=lambda args, context: SPP(tuple(args.kernels)),
        out_channels=lambda args, in_channels: in_channels[0] * (len(args.kernels) + 1),
    )
)
register_width_block("SPPCSP", SPPCSP, SPPCSPArgs, ignored=("shortcut", "groups"))
