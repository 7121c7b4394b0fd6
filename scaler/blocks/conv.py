"""Conv: convolution + batch norm + activation, the unit every Scaled-YOLOv4 block is made of."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.activations import make_activation
from scaler.blocks.norm import batch_norm, fold_batch_norm
from scaler.blocks.registry import BLOCKS, BlockType, BuildContext, declared_out_channels, first_input


@dataclass(frozen=True)
class ConvArgs:
    out_channels: int
    kernel_size: int = 1
    stride: int = 1
    groups: int = 1
    activate: bool = True


class Conv(nn.Module):
    """Conv2d (no bias, 'same' padding) → BatchNorm2d → activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        activation: str = "mish",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False
        )
        self.bn: nn.Module = batch_norm(out_channels)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    def fuse_for_deploy(self) -> None:
        """Fold the batch norm into the convolution (eval-mode equivalent)."""
        if isinstance(self.bn, nn.BatchNorm2d):
            self.conv = fold_batch_norm(self.conv, self.bn)
            self.bn = nn.Identity()


def _build(args: ConvArgs, context: BuildContext) -> nn.Module:
    activation = context.activation if args.activate else "linear"
    return Conv(
        first_input(context.in_channels),
        args.out_channels,
        args.kernel_size,
        args.stride,
        args.groups,
        activation,
    )


BLOCKS.register(
    BlockType(
        name="Conv",
        args_type=ConvArgs,
        build=_build,
        out_channels=declared_out_channels,
        width_scaled=True,
        yaml_min_args=3,
        stride=lambda args: float(args.stride),
    )
)
