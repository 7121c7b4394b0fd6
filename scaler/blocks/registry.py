"""A typed registry of network blocks.

Every block family registers a :class:`BlockType`: its argument dataclass (the typed form of the
``args`` column of a model yaml row), how to build the ``nn.Module`` and how many channels it
produces. The builder and the yaml reader look blocks up here by name; nothing is resolved with
``eval`` or ``globals()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from scaler.errors import SpecError


@dataclass(frozen=True)
class BuildContext:
    """What a block needs besides its own arguments to be built."""

    in_channels: tuple[int, ...]
    repeats: int
    activation: str


@dataclass(frozen=True)
class BlockType:
    """A registered block family.

    ``width_scaled``: the first argument is an output width that ``width_multiple`` scales.
    ``repeats_inside``: the row's ``number`` is passed to the block (CSP blocks) instead of
    stacking copies of it in an ``nn.Sequential``.
    """

    name: str
    args_type: type
    build: Callable[[Any, BuildContext], nn.Module]
    out_channels: Callable[[Any, tuple[int, ...]], int]
    yaml_names: tuple[str, ...] = ()
    width_scaled: bool = False
    repeats_inside: bool = False
    yaml_min_args: int = 1
    stride: Callable[[Any], float] = lambda args: 1.0  # how much the block downsamples its input

    @property
    def yaml_spelling(self) -> str:
        """The module name the reference yamls use (``nn.Upsample`` for Upsample)."""
        return self.yaml_names[0] if self.yaml_names else self.name


class BlockRegistry:
    """Name → :class:`BlockType`, with the aliases used in reference model yamls."""

    def __init__(self) -> None:
        self._by_name: dict[str, BlockType] = {}
        self._aliases: dict[str, str] = {}

    def register(self, block_type: BlockType) -> BlockType:
        if block_type.name in self._by_name:
            raise ValueError(f"block {block_type.name!r} is already registered")
        self._by_name[block_type.name] = block_type
        for alias in block_type.yaml_names:
            self._aliases[alias] = block_type.name
        return block_type

    def get(self, name: str, field: str = "block") -> BlockType:
        canonical = self._aliases.get(name, name)
        if canonical not in self._by_name:
            known = ", ".join(sorted(self._by_name))
            raise SpecError(field, f"unknown block {name!r}; known blocks: {known}")
        return self._by_name[canonical]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._aliases.get(name, name) in self._by_name

    def __iter__(self) -> Iterator[BlockType]:
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return sorted(self._by_name)


BLOCKS = BlockRegistry()


def first_input(in_channels: tuple[int, ...]) -> int:
    """The channel count of a single-input block's input."""
    return in_channels[0]


def declared_out_channels(args: Any, in_channels: tuple[int, ...]) -> int:
    """For blocks whose first argument is their output width."""
    return args.out_channels


def register_width_block(
    name: str,
    module_type: Callable[..., nn.Module],
    args_type: type,
    *,
    repeats_inside: bool = False,
    ignored: tuple[str, ...] = (),
) -> BlockType:
    """Register a single-input block whose constructor is
    ``module_type(in_channels, <args fields by name>, [repeats=], activation=)``."""

    def build(args: Any, context: BuildContext) -> nn.Module:
        keywords = {f.name: getattr(args, f.name) for f in fields(args) if f.name not in ignored}
        if repeats_inside:
            keywords["repeats"] = context.repeats
        return module_type(first_input(context.in_channels), activation=context.activation, **keywords)

    return BLOCKS.register(
        BlockType(
            name=name,
            args_type=args_type,
            build=build,
            out_channels=declared_out_channels,
            width_scaled=True,
            repeats_inside=repeats_inside,
        )
    )
