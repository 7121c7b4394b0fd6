"""Walk a NetworkSpec and build its modules through the block registry."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from scaler.blocks import BLOCKS, BuildContext
from scaler.blocks.activations import check_activation
from scaler.spec import NetworkSpec

INPUT_CHANNELS = 3


@dataclass(frozen=True)
class Routing:
    """How data flows between the layers of a spec."""

    inputs: tuple[tuple[int, ...], ...]  # absolute source indices per layer (−1: the image)
    takes_list: tuple[bool, ...]  # whether a layer receives a list of tensors
    in_channels: tuple[tuple[int, ...], ...]
    out_channels: tuple[int, ...]
    strides: tuple[float, ...]  # each layer's output stride relative to the input image


def route_layers(spec: NetworkSpec, in_channels: int = INPUT_CHANNELS) -> Routing:
    """Resolve every layer's sources and channel counts without building anything."""
    inputs: list[tuple[int, ...]] = []
    layer_in: list[tuple[int, ...]] = []
    out: list[int] = []
    strides: list[float] = []
    for index, layer in enumerate(spec.layers):
        block_type = BLOCKS.get(layer.block, f"layers[{index}].block")
        sources = layer.sources(index)
        source_channels = tuple(in_channels if s == -1 else out[s] for s in sources)
        inputs.append(sources)
        layer_in.append(source_channels)
        out.append(block_type.out_channels(layer.args, source_channels))
        strides.append(max(1.0 if s == -1 else strides[s] for s in sources) * block_type.stride(layer.args))
    takes_list = tuple(isinstance(layer.source, tuple) for layer in spec.layers)
    return Routing(tuple(inputs), takes_list, tuple(layer_in), tuple(out), tuple(strides))


def build_modules(spec: NetworkSpec, routing: Routing) -> tuple[nn.Module, ...]:
    """Instantiate every layer of ``spec``; rows with ``number`` > 1 of non-CSP blocks become an
    ``nn.Sequential`` of copies, as in the reference parser."""
    check_activation(spec.activation, "activation")
    modules: list[nn.Module] = []
    for index, layer in enumerate(spec.layers):
        block_type = BLOCKS.get(layer.block, f"layers[{index}].block")
        activation = check_activation(layer.activation or spec.activation, f"layers[{index}].activation")
        source_channels = routing.in_channels[index]
        if block_type.repeats_inside or layer.repeats <= 1:
            modules.append(
                block_type.build(layer.args, BuildContext(source_channels, layer.repeats, activation))
            )
            continue
        later = (routing.out_channels[index],)
        copies = [
            block_type.build(layer.args, BuildContext(source_channels if copy == 0 else later, 1, activation))
            for copy in range(layer.repeats)
        ]
        modules.append(nn.Sequential(*copies))
    return tuple(modules)
