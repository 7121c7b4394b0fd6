"""Export reads a trial's weights wherever its checkpoint was persisted, and says so when it is gone."""

from __future__ import annotations

import json

import pytest
import torch

from scaler import Detector
from workers.data.open import open_dataset
from workers.export import MissingCheckpointError, export_trial, load_export
from workers.trial import TrialConfig, build_network

POINT = {"family": "large", "stages": 5, "depth_multiple": 0.33, "width_multiple": 0.125}


def _config(synth_dataset) -> TrialConfig:
    return TrialConfig.from_dict({"data": str(synth_dataset), "point": POINT, "image_size": 64})


def _trainer_checkpoint(config: TrialConfig, path) -> dict[str, torch.Tensor]:
    """A checkpoint shaped like the trainer's: raw and EMA weights (export takes the EMA ones)."""
    torch.manual_seed(5)
    network = build_network(config, open_dataset(config.data).num_classes)
    raw, ema = Detector(network).state_dict(), Detector(network).state_dict()
    torch.save({"model": raw, "ema": ema, "epoch": 3}, path)
    return ema


@pytest.mark.parametrize("as_uri", [False, True])
def test_the_exported_weights_are_the_checkpoints_ema_weights(synth_dataset, tmp_path, as_uri):
    config = _config(synth_dataset)
    ema = _trainer_checkpoint(config, tmp_path / "trainer.pt")
    reference = (tmp_path / "trainer.pt").as_uri() if as_uri else str(tmp_path / "trainer.pt")
    folder = export_trial(config, tmp_path / "export", {"ap": 0.5}, checkpoint=reference, onnx=False)
    _, model = load_export(folder)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in ema.items())
    assert json.loads((folder / "metrics.json").read_text())["trained"] is True


@pytest.mark.parametrize("reference", ["{tmp}/gone/trainer.pt", "file://{tmp}/gone/trainer.pt"])
def test_a_checkpoint_that_is_gone_is_an_error_not_untrained_weights(synth_dataset, tmp_path, reference):
    reference = reference.format(tmp=tmp_path)
    with pytest.raises(MissingCheckpointError, match=r"gone/trainer\.pt"):
        export_trial(_config(synth_dataset), tmp_path / "export", {}, checkpoint=reference, onnx=False)


def test_a_trial_without_checkpoint_exports_its_untrained_network(synth_dataset, tmp_path):
    config = _config(synth_dataset)
    folder = export_trial(config, tmp_path / "export", {}, checkpoint=None, onnx=False)
    assert json.loads((folder / "metrics.json").read_text())["trained"] is False
    network, _ = load_export(folder)
    assert network.layers == build_network(config, 3).layers
