"""Detect: the YOLO head, one 1×1 conv per level, decoding boxes as Scaled-YOLOv4 does.

Decoding (reference §9.1), per level with stride s and grid cell (gx, gy):
xy = (2σ(t_xy) − 0.5 + g)·s, wh = (2σ(t_wh))²·anchor_pixels, objectness and classes = σ.
Buffers are named as in the reference (``anchors`` in grid units once strides are known,
``anchor_grid`` in pixels) so that reference state dicts load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from scaler.blocks.registry import BLOCKS, BlockType, BuildContext

Anchors = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class DetectArgs:
    num_classes: int
    anchors: Anchors  # per level: w1, h1, w2, h2, ... in input pixels


class Detect(nn.Module):
    """Training: list of raw maps (bs, na, ny, nx, nc+5). Eval: (decoded (bs, N, nc+5), raw list).
    With ``export = True`` eval returns only the decoded tensor (ONNX, deployment)."""

    def __init__(self, num_classes: int, anchors: Anchors, in_channels: tuple[int, ...]) -> None:
        super().__init__()
        self.nc = num_classes
        self.no = num_classes + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        anchor_tensor = torch.tensor(anchors, dtype=torch.float32).view(self.nl, -1, 2)
        self.register_buffer("anchors", anchor_tensor)
        self.register_buffer("anchor_grid", anchor_tensor.clone().view(self.nl, 1, -1, 1, 1, 2))
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(channels, self.no * self.na, 1) for channels in in_channels)
        self.export = False

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor] | tuple | torch.Tensor:
        raw: list[torch.Tensor] = []
        decoded: list[torch.Tensor] = []
        for level, feature in enumerate(features):
            output = self.m[level](feature)
            batch, _, height, width = output.shape
            output = output.view(batch, self.na, self.no, height, width).permute(0, 1, 3, 4, 2).contiguous()
            raw.append(output)
            if not self.training:
                decoded.append(self._decode(output, level).view(batch, -1, self.no))
        if self.training:
            return raw
        predictions = torch.cat(decoded, 1)
        return predictions if self.export else (predictions, raw)

    def _decode(self, output: torch.Tensor, level: int) -> torch.Tensor:
        height, width = output.shape[2], output.shape[3]
        rows = torch.arange(height, device=output.device, dtype=output.dtype)
        cols = torch.arange(width, device=output.device, dtype=output.dtype)
        grid_y, grid_x = torch.meshgrid(rows, cols, indexing="ij")
        grid = torch.stack((grid_x, grid_y), dim=-1).view(1, 1, height, width, 2)
        y = output.sigmoid()
        xy = (y[..., 0:2] * 2.0 - 0.5 + grid) * self.stride[level]
        wh = (y[..., 2:4] * 2.0) ** 2 * self.anchor_grid[level].to(output.dtype)
        return torch.cat((xy, wh, y[..., 4:]), dim=-1)

    @torch.no_grad()
    def initialize_biases(self) -> None:
        """Objectness prior ln(8/(640/s)²) and class prior ln(0.6/(nc − 0.99)), per level."""
        for conv, stride in zip(self.m, self.stride.tolist(), strict=True):
            bias = conv.bias.view(self.na, -1)
            bias[:, 4] += math.log(8 / (640 / stride) ** 2)
            bias[:, 5:] += math.log(0.6 / (self.nc - 0.99))


def _build(args: DetectArgs, context: BuildContext) -> nn.Module:
    return Detect(args.num_classes, args.anchors, context.in_channels)


BLOCKS.register(
    BlockType(
        name="Detect",
        args_type=DetectArgs,
        build=_build,
        out_channels=lambda args, in_channels: 0,
    )
)
