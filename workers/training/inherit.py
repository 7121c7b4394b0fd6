"""Weight inheritance: a network starts from trained weights — its parent's (Lamarckian
evolution, as in LEMONADE, Elsken et al. 2019), a job's ``training.initial_weights`` (a released
checkpoint, a Scaler export, an earlier job's trial) or its job's supernet — so that it needs a
fraction of a scratch trial.

The weights are mapped onto the network by structure (``scaler.weight_map``: stage ↔ stage,
block ↔ block, pyramid level ↔ level, the most important channels first, head rows per anchor
and classes by name; anchors are the network's own). Weights a trial saves for others to start
from carry their model yaml and class names, so that any later point of the family can map them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from scaler import Detector, dump_model_yaml
from scaler.weight_map import MappingReport, map_weights
from scaler.weight_source import read_weight_source
from workers.training.checkpoint import load_checkpoint, save_checkpoint


def save_weights(
    path: Path, model: Detector, class_names: Sequence[str] | None = None, leading_channels: bool = False
) -> Path:
    """The weights others start from (a trial's EMA model) with their structure, written
    atomically. ``leading_channels``: a supernet whose sub-networks are its leading channels."""
    document: dict[str, object] = {"model": model.state_dict(), "model_yaml": dump_model_yaml(model.spec)}
    if class_names is not None:
        document["class_names"] = list(class_names)
    if leading_channels:
        document["channel_order"] = "leading"
    return save_checkpoint(path, document)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of weights saved by :func:`save_weights` (read by the safe loader)."""
    return load_checkpoint(path)["model"]


def start_from(model: Detector, path: str | Path, class_names: Sequence[str] | None = None) -> MappingReport:
    """Initialise ``model`` (predicting ``class_names``) from the weights at ``path``."""
    source = read_weight_source(path)
    return map_weights(
        model,
        source.spec,
        source.state,
        source.class_names,
        class_names,
        by_importance=not source.leading_channels,
    )
