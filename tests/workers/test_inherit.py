"""Weight inheritance: a network starts from trained weights, mapped onto it by structure."""

from __future__ import annotations

import pytest
import torch

from scaler import Detector, ScalingPoint, compound_scale
from scaler.weight_map import map_weights
from workers.search.lineage import Lineage
from workers.search.trainable import inheriting
from workers.training.hyp import Hyperparameters
from workers.training.inherit import load_weights, save_weights
from workers.training.trainer import TrainConfig, Trainer
from workers.trial import TrialConfig


def _detector(depth: float, width: float, seed: int, size: int = 64, classes: int = 3) -> Detector:
    torch.manual_seed(seed)
    point = ScalingPoint(depth_multiple=depth, width_multiple=width, input_size=size, num_classes=classes)
    return Detector(compound_scale(point).to_network())


def test_a_child_of_the_same_shape_computes_what_its_parent_computed_with_its_own_anchors():
    parent, child = _detector(0.33, 0.25, seed=0), _detector(0.33, 0.25, seed=1, size=96)
    child_anchors = child.detect.anchors.clone()
    report = map_weights(child, parent.spec, parent.state_dict())
    assert not report.sliced and len(report.fresh) == 2  # the anchors and their grid stay the child's
    assert torch.equal(child.detect.anchors, child_anchors)
    image = torch.rand(1, 3, 64, 64)
    parent.eval(), child.eval()
    with torch.no_grad():
        assert torch.equal(parent(image)[0], child(image)[0])


def test_a_wider_deeper_child_keeps_its_initialisation_beyond_the_overlap():
    parent, child = _detector(0.2, 0.125, seed=0), _detector(0.5, 0.5, seed=1)
    before = {name: tensor.clone() for name, tensor in child.state_dict().items()}
    report = map_weights(child, parent.spec, parent.state_dict())
    assert len(report.fresh) > 2  # the blocks the shallow parent lacks
    first = "model.0.conv.weight"
    inherited, own = parent.state_dict()[first], child.state_dict()[first]
    assert torch.equal(own[: inherited.shape[0]], inherited)
    assert torch.equal(own[inherited.shape[0] :], before[first][inherited.shape[0] :])


def test_a_trainer_started_from_saved_weights_evaluates_like_its_parent(synth_dataset, tmp_path):
    network = compound_scale(
        ScalingPoint(depth_multiple=0.33, width_multiple=0.125, input_size=64, num_classes=3)
    ).to_network()
    hyp = Hyperparameters(mosaic=0.0, lr0=0.004)
    parent = Trainer(
        TrainConfig(network, synth_dataset, 64, epochs=2, batch_size=8, hyp=hyp, nominal_batch=8, seed=1)
    )
    parent.train_epoch()
    parent.epoch += 1
    path = save_weights(tmp_path / "weights" / "parent.pt", parent.ema.ema, parent.dataset.names)
    assert set(load_weights(path)) == set(parent.ema.ema.state_dict())

    child_config = TrainConfig(
        network,
        synth_dataset,
        64,
        epochs=1,
        batch_size=8,
        hyp=hyp,
        nominal_batch=8,
        seed=2,
        init_weights=path,
    )
    child = Trainer(child_config)
    assert child.inheritance is not None and child.inheritance.share > 0.99
    parent_validation, child_validation = parent.validate(), child.validate()
    assert child_validation.losses == parent_validation.losses
    assert child_validation.metrics == parent_validation.metrics


def test_a_child_fine_tunes_at_its_parents_final_learning_rate_without_warm_up(tmp_path):
    parent_weights = save_weights(tmp_path / "parent.pt", _detector(0.33, 0.25, seed=0))
    asked = TrialConfig(data="data", epochs=18, restarts=(3, 9), hyp=Hyperparameters(lr0=0.004, lrf=0.1))
    lineage = Lineage(inherit_from=str(parent_weights), epochs=6)
    child = inheriting(asked, lineage)
    assert child.init_weights == str(parent_weights) and child.epochs == 6 and child.restarts == ()
    assert child.hyp.lr0 == pytest.approx(0.0004) and child.hyp.warmup_epochs == 0.0
    assert child.hyp.lrf == 0.1  # its schedule goes on falling from there
    default_lrf = inheriting(TrialConfig(data="data", hyp=Hyperparameters(lr0=0.01)), lineage)
    assert default_lrf.hyp.lr0 == pytest.approx(0.01 * Hyperparameters().lrf)


def test_a_trial_without_a_parent_or_whose_parent_lost_its_weights_trains_as_asked(tmp_path):
    asked = TrialConfig(data="data", epochs=18, hyp=Hyperparameters(lr0=0.004))
    assert inheriting(asked, Lineage()) == asked
    assert inheriting(asked, Lineage(inherit_from=str(tmp_path / "gone.pt"), epochs=6)) == asked


def test_a_narrower_network_mapped_from_a_trained_one_has_a_lower_loss_than_a_fresh_one(
    synth_dataset, tmp_path
):
    def config(width: float, epochs: int, seed: int, init_weights=None) -> TrainConfig:
        point = ScalingPoint(depth_multiple=0.33, width_multiple=width, input_size=64, num_classes=3)
        return TrainConfig(
            compound_scale(point).to_network(),
            synth_dataset,
            64,
            epochs=epochs,
            batch_size=8,
            hyp=Hyperparameters(mosaic=0.0, lr0=0.004),
            nominal_batch=8,
            seed=seed,
            init_weights=init_weights,
        )

    wide = Trainer(config(0.5, epochs=4, seed=0))
    wide.fit()
    path = save_weights(tmp_path / "wide.pt", wide.ema.ema, wide.dataset.names)
    mapped = Trainer(config(0.25, epochs=1, seed=1, init_weights=path))
    fresh = Trainer(config(0.25, epochs=1, seed=1))
    assert mapped.inheritance is not None and mapped.inheritance.share == 1.0 and mapped.inheritance.sliced
    mapped_loss = mapped.validate().losses["total"]
    fresh_loss = fresh.validate().losses["total"]
    assert mapped_loss < fresh_loss
