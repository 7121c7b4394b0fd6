from __future__ import annotations

from pathlib import Path

import pytest

from workers.data.synth import SynthConfig, write_synth_dataset


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small built-in dataset shared by the tests (read-only: copy before breaking it)."""
    root = tmp_path_factory.mktemp("synth")
    write_synth_dataset(root, SynthConfig(images=24, val_images=8, size=128, classes=3, seed=7))
    return root
