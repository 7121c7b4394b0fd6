"""Weight inheritance: a child network starts from its parent's trained weights (Lamarckian
evolution, as in LEMONADE, Elsken et al. 2019), so that it needs a fraction of a scratch trial.

Parent and child are two points of one compound-scaling family: the same layer list, each layer
wider or narrower, each CSP stage with more or fewer blocks. Every tensor of the child whose name
is in the parent takes the parent's values on the overlap of the two shapes (the leading channels
of each dimension); blocks the parent lacks, and the rest of a wider tensor, keep their fresh
initialisation. The head's anchors are the child's own (its input size may differ): never copied.
Slicing the leading channels is not function-preserving where a layer concatenates branches, so
an inherited child is a warm start to fine-tune, not a copy of the parent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from workers.training.checkpoint import load_checkpoint, save_checkpoint

OWN_BUFFERS = ("anchors", "anchor_grid")  # the child's anchors come from its own configuration


@dataclass(frozen=True)
class Inheritance:
    copied: int  # tensors taken whole
    sliced: int  # tensors taken on the overlap of two shapes
    fresh: int  # tensors the parent has no counterpart for (kept as initialised)

    @property
    def share(self) -> float:
        total = self.copied + self.sliced + self.fresh
        return (self.copied + self.sliced) / total if total else 0.0


def inherit_weights(model: nn.Module, parent_state: Mapping[str, torch.Tensor]) -> Inheritance:
    """Copy ``parent_state`` into ``model`` where names match, on the overlap of the shapes."""
    copied = sliced = fresh = 0
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            source = parent_state.get(name)
            if name.rsplit(".", 1)[-1] in OWN_BUFFERS or source is None or source.dim() != tensor.dim():
                fresh += 1
                continue
            if source.shape == tensor.shape:
                tensor.copy_(source.to(tensor.dtype))
                copied += 1
                continue
            overlap = tuple(slice(0, min(a, b)) for a, b in zip(tensor.shape, source.shape, strict=True))
            tensor[overlap] = source[overlap].to(tensor.dtype)
            sliced += 1
    return Inheritance(copied, sliced, fresh)


def save_weights(path: Path, model: nn.Module) -> Path:
    """The weights a child inherits (a trial's EMA model), written atomically."""
    return save_checkpoint(path, {"model": model.state_dict()})


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]
