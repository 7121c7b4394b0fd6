"""Training checkpoints: everything needed to resume to the same state.

A checkpoint holds only tensors and plain values (state dicts, numbers, strings, lists, dicts),
so that it loads with torch's weights-only unpickler (:func:`scaler.checkpoint.read_checkpoint`):
a file in the job's storage, or a parent's weights a trial inherits, cannot run code when read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from scaler.checkpoint import read_checkpoint


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename), so a crash never leaves a half-written checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state in ``path``; a file that needs anything beyond tensors and plain values is refused
    (:class:`scaler.checkpoint.UnsafeCheckpointError`) before anything in it runs."""
    return read_checkpoint(path)
