"""Blocks without weights: Upsample, MaxPool and Concat."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.registry import BLOCKS, BlockType


@dataclass(frozen=True)
class UpsampleArgs:
    size: int | None = None
    scale_factor: float = 2
    mode: str = "nearest"


@dataclass(frozen=True)
class MaxPoolArgs:
    kernel_size: int = 2
    stride: int = 2


@dataclass(frozen=True)
class ConcatArgs:
    dimension: int = 1


class Concat(nn.Module):
    """Concatenates a list of tensors along ``dimension`` (channels by default)."""

    def __init__(self, dimension: int = 1) -> None:
        super().__init__()
        self.d = dimension

    def forward(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(tensors, self.d)


def _same_channels(args: object, in_channels: tuple[int, ...]) -> int:
    return in_channels[0]


BLOCKS.register(
    BlockType(
        name="Upsample",
        args_type=UpsampleArgs,
        build=lambda args, context: nn.Upsample(args.size, args.scale_factor, args.mode),
        out_channels=_same_channels,
        yaml_names=("nn.Upsample",),
        stride=lambda args: 1.0 / args.scale_factor,
    )
)
BLOCKS.register(
    BlockType(
        name="MaxPool",
        args_type=MaxPoolArgs,
        build=lambda args, context: nn.MaxPool2d(
            args.kernel_size, args.stride, padding=(args.kernel_size - 1) // 2
        ),
        out_channels=_same_channels,
        yaml_names=("nn.MaxPool2d",),
        stride=lambda args: float(args.stride),
    )
)
BLOCKS.register(
    BlockType(
        name="Concat",
        args_type=ConcatArgs,
        build=lambda args, context: Concat(args.dimension),
        out_channels=lambda args, in_channels: sum(in_channels),
    )
)
