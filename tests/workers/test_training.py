"""The training loop: it learns, it resumes to the same state, it fails clearly when it diverges."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from scaler import ScalingPoint, compound_scale
from workers.data.open import open_dataset
from workers.training.hyp import Hyperparameters
from workers.training.trainer import NonFiniteLossError, TrainConfig, Trainer

NO_AUGMENTATION = Hyperparameters(
    mosaic=0.0, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, translate=0.0, scale=0.0, fliplr=0.0, warmup_epochs=0.0
)


def _network(width=0.25, size=96, family="large"):
    return compound_scale(
        ScalingPoint(family=family, depth_multiple=0.33, width_multiple=width, input_size=size, num_classes=3)
    ).to_network()


@pytest.fixture
def one_thread():
    """Torch on one thread: a small network on four images gains nothing from a second, and on a
    busy machine two threads wait on each other (measured: 55 s instead of 8 s for the test below)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_overfitting_one_small_batch_reaches_high_ap50(synth_dataset):
    dataset = open_dataset(synth_dataset)
    # four images (12 objects) whose objects are all at least 10 px: each matches an anchor of the
    # tiny family (the smallest is 23×27, anchor_t 4) and NMS keeps it (it drops boxes of ≤ 2 px)
    clear = [
        r for r in dataset.train.records if len(r.boxes) and (r.boxes[:, 2:] - r.boxes[:, :2]).min() >= 10
    ]
    few = dataclasses.replace(dataset.train, records=tuple(clear[:4]))
    # an epoch is five batches of those four images; evaluated on the very images trained on
    dataset = dataclasses.replace(dataset, train=dataclasses.replace(few, records=few.records * 5), val=few)
    config = TrainConfig(
        # the loop is the same for every family; a YOLOv4-tiny step costs an eighth of a P5's
        network=_network(0.25, 128, family="tiny"),
        data=synth_dataset,
        image_size=128,
        epochs=60,  # about 25 do it (measured: 23–28 over four seeds); at lr0 0, 60 do not
        batch_size=4,
        hyp=NO_AUGMENTATION.replace(lr0=0.04),
        nominal_batch=4,
    )
    trainer = Trainer(config, dataset=dataset)
    for _ in range(config.epochs):
        trainer.train_epoch()
        trainer.epoch += 1
        metrics = trainer.evaluate()
        if metrics.ap50 > 0.9:  # overfitted: no need to train on
            break
    assert metrics.ap50 > 0.9, (trainer.epoch, metrics)


def test_resuming_from_a_checkpoint_gives_the_same_next_epoch(synth_dataset, tmp_path):
    config = TrainConfig(
        network=_network(0.125, 64),
        data=synth_dataset,
        image_size=64,
        epochs=2,
        batch_size=8,
        hyp=Hyperparameters(mosaic=0.5, mixup=0.2),
        seed=3,
        out_dir=tmp_path / "run",
    )
    straight = Trainer(config)
    straight.fit()

    first = Trainer(dataclasses.replace(config, out_dir=tmp_path / "interrupted"))
    first.train_epoch()
    first.epoch += 1
    first.save(tmp_path / "interrupted" / "epoch1.pt")
    resumed = Trainer(dataclasses.replace(config, out_dir=tmp_path / "interrupted"))
    resumed.resume(tmp_path / "interrupted" / "epoch1.pt")
    assert resumed.epoch == 1
    resumed.train_epoch()
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value.float(), resumed.model.state_dict()[key].float(), atol=1e-6), key
    for key, value in straight.ema.ema.state_dict().items():
        assert torch.allclose(value.float(), resumed.ema.ema.state_dict()[key].float(), atol=1e-6), key
    assert (tmp_path / "run" / "last.pt").is_file() and (tmp_path / "run" / "best.pt").is_file()
    assert [r.epoch for r in straight.history] == [0, 1]
    assert all(
        r.images_per_second > 0 and set(r.losses) == {"box", "obj", "cls", "total"} for r in straight.history
    )


def test_a_diverging_run_fails_with_a_clear_message(synth_dataset):
    config = TrainConfig(
        network=_network(0.125, 64),
        data=synth_dataset,
        image_size=64,
        epochs=3,
        batch_size=8,
        hyp=NO_AUGMENTATION.replace(lr0=1e12, momentum=0.98),
        nominal_batch=8,
    )
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at epoch \d+, batch \d+"):
        Trainer(config).fit()


def test_class_count_mismatch_is_rejected(synth_dataset):
    network = compound_scale(ScalingPoint(width_multiple=0.125, input_size=64, num_classes=5)).to_network()
    with pytest.raises(ValueError, match="num_classes"):
        Trainer(TrainConfig(network=network, data=synth_dataset, image_size=64))


def test_a_restarted_schedule_starts_over_at_the_rung(synth_dataset):
    config = TrainConfig(
        network=_network(0.125, 64),
        data=synth_dataset,
        image_size=64,
        epochs=3,
        restarts=(1,),
        batch_size=16,
        hyp=NO_AUGMENTATION.replace(lr0=0.01),
    )
    trainer = Trainer(config)
    rates = [result.learning_rate for result in trainer.fit()]
    assert rates[0] == pytest.approx(0.01) and rates[1] == pytest.approx(0.01)  # a new cycle at epoch 1
    assert rates[2] < rates[1]


def test_the_validation_loss_uses_the_reference_loss_settings_so_trials_compare(synth_dataset):
    config = TrainConfig(
        network=_network(0.125, 64), data=synth_dataset, image_size=64, batch_size=16, seed=5
    )
    plain = Trainer(config).validate()
    reweighted = Trainer(dataclasses.replace(config, hyp=Hyperparameters(obj=3.0, box=0.01))).validate()
    assert set(plain.losses) == {"box", "obj", "cls", "total"}
    assert plain.losses["total"] > 0 and plain.losses["box"] > 0
    assert reweighted.losses == pytest.approx(plain.losses)  # same weights, same yardstick
    assert reweighted.metrics == plain.metrics
