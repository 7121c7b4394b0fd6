"""Walk a NetworkSpec and build its modules through the block registry."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from scaler.blocks import BLOCKS, BuildContext
from scaler.blocks.activations import check_activation
from scaler.spec import NetworkSpec

INPUT_CHANNELS = 3


@dataclass(frozen=True)
class BuiltLayers:
    modules: tuple[nn.Module, ...]
    inputs: tuple[tuple[int, ...], ...]  # absolute source indices per layer (−1: the image)
    takes_list: tuple[bool, ...]  # whether a layer receives a list of tensors
    out_channels: tuple[int, ...]


def build_layers(spec: NetworkSpec, in_channels: int = INPUT_CHANNELS) -> BuiltLayers:
    """Instantiate every layer of ``spec``; rows with ``number`` > 1 of non-CSP blocks become an
    ``nn.Sequential`` of copies, as in the reference parser."""
    channels: list[int] = []
    modules: list[nn.Module] = []
    inputs: list[tuple[int, ...]] = []
    takes_list: list[bool] = []
    check_activation(spec.activation, "activation")
    for index, layer in enumerate(spec.layers):
        block_type = BLOCKS.get(layer.block, f"layers[{index}].block")
        sources = layer.sources(index)
        source_channels = tuple(in_channels if s == -1 else channels[s] for s in sources)
        activation = check_activation(layer.activation or spec.activation, f"layers[{index}].activation")
        if block_type.repeats_inside or layer.repeats <= 1:
            module = block_type.build(layer.args, BuildContext(source_channels, layer.repeats, activation))
        else:
            out = block_type.out_channels(layer.args, source_channels)
            copies = [block_type.build(layer.args, BuildContext(source_channels, 1, activation))]
            copies += [
                block_type.build(layer.args, BuildContext((out,), 1, activation)) for _ in range(layer.repeats - 1)
            ]
            module = nn.Sequential(*copies)
        modules.append(module)
        inputs.append(sources)
        takes_list.append(isinstance(layer.source, tuple))
        channels.append(block_type.out_channels(layer.args, source_channels))
    return BuiltLayers(tuple(modules), tuple(inputs), tuple(takes_list), tuple(channels))
