from __future__ import annotations

import os
from pathlib import Path

import pytest

from workers.data.synth import SynthConfig, write_synth_dataset


def pytest_configure(config: pytest.Config) -> None:
    """Trials in tests are seconds long: skip compiling the fused Mish kernel in every new trial
    process (about 7 s each); tests/scaler/test_deploy.py checks that kernel itself
    (``test_the_fused_mish_kernel_equals_mish_and_serves_deploy_unless_switched_off``)."""
    os.environ.setdefault("SCALER_FUSED_MISH", "0")
    # two test workers share two cores: a trial trains on one thread, not on all of them
    os.environ.setdefault("SCALER_CPUS_PER_TRIAL", "1")


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small built-in dataset shared by the tests (read-only: copy before breaking it)."""
    root = tmp_path_factory.mktemp("synth")
    write_synth_dataset(root, SynthConfig(images=24, val_images=8, size=128, classes=3, seed=7))
    return root
