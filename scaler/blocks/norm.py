"""Batch norm with the reference initialisation and Conv+BN folding."""

from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm2d initialised as the reference does (eps 1e-3, momentum 0.03)."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


@torch.no_grad()
def fold_batch_norm(
    conv: nn.Conv2d,
    norm: nn.BatchNorm2d,
    channels: slice | None = None,
) -> nn.Conv2d:
    """A new Conv2d equal to ``norm(conv(x))`` in eval mode.

    ``channels`` selects which channels of ``norm`` follow ``conv`` (for a BN that normalises a
    concatenation of several convolutions).
    """
    select = channels if channels is not None else slice(0, norm.num_features)
    running_mean = norm.running_mean[select]
    running_var = norm.running_var[select]
    weight = norm.weight[select] if norm.affine else torch.ones_like(running_mean)
    bias = norm.bias[select] if norm.affine else torch.zeros_like(running_mean)
    scale = weight / torch.sqrt(running_var + norm.eps)
    fused = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
    ).to(conv.weight.device, conv.weight.dtype)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(running_mean)
    fused.bias.copy_((conv_bias - running_mean) * scale + bias)
    return fused
