"""``training.fine_tune``: how a candidate that starts from the job's initial weights trains —
``transfer`` as the reference fine-tunes (its lr0 and warm-up, hyp.finetune.yaml's scale and mixup)
or ``continue`` where a trained network's schedule ends (lr0 × lrf, no warm-up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces import parse_job_spec
from search_spaces.budget import TrainingSettings
from search_spaces.loading import SpecLoadError
from tests.workers.search.trial_reports import tiny_spec
from workers.search.points import trial_config
from workers.search.trainable import starting_weights
from workers.training.hyp import FINE_TUNE_CHANGES, Hyperparameters
from workers.trial import TrialConfig


def test_candidates_continue_unless_the_job_asks_to_transfer() -> None:
    """Measured (docs/benchmarks.md, "Transfer or continue"): on a search's short trials the
    continuing schedule fine-tunes weights from another dataset better than the reference's."""
    assert TrainingSettings(initial_weights="released/yolov4-p5.pt").fine_tune == "continue"
    assert TrainingSettings(initial_weights="job:abc", fine_tune="transfer").fine_tune == "transfer"


def test_an_unknown_schedule_is_refused_naming_the_field(tmp_path: Path) -> None:
    document = tiny_spec(tmp_path).model_dump(mode="json")
    document["training"]["fine_tune"] = "warm"
    with pytest.raises(SpecLoadError) as refused:
        parse_job_spec(document)
    assert refused.value.field == "training.fine_tune"


def with_weights(dataset: Path, **hyperparameters: object) -> TrialConfig:
    """The default point's trial of a tiny job that starts from initial weights."""
    training = {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam", "initial_weights": "weights.pt"}
    spec = tiny_spec(dataset, training=training)
    if hyperparameters:
        space = spec.space.model_dump(mode="json")
        space["hyperparameters"]["base"].update(hyperparameters)
        spec = tiny_spec(dataset, training=training, space=space)
    return trial_config(spec, spec.space.default_point())


def test_transfer_keeps_lr0_and_warm_up_and_continue_starts_where_a_schedule_ends(tmp_path: Path) -> None:
    config = with_weights(tmp_path)
    asked = config.hyp
    assert asked.warmup_epochs > 0

    transfer = starting_weights(config, "weights.pt", "transfer")
    assert transfer.init_weights == "weights.pt" and transfer.epochs == config.epochs
    assert transfer.hyp == asked  # the reference's lr0 and warm-up

    continued = starting_weights(config, "weights.pt", "continue")
    typed = continued.hyp
    assert typed.lr0 == pytest.approx(asked.lr0 * asked.lrf) and typed.warmup_epochs == 0
    assert typed.replace(lr0=asked.lr0, warmup_epochs=asked.warmup_epochs) == asked


def test_a_job_with_initial_weights_trains_on_the_reference_fine_tuning_file(tmp_path: Path) -> None:
    """hyp.finetune.yaml (scale 0.8, mixup 0.2) under the job's values, as the reference takes it
    whenever it is given weights; a job from scratch keeps the scratch values."""
    fine_tuned = with_weights(tmp_path).hyp
    assert (fine_tuned.scale, fine_tuned.mixup) == (FINE_TUNE_CHANGES["scale"], FINE_TUNE_CHANGES["mixup"])
    assert fine_tuned.lr0 == 0.004  # the job's own values stay
    scratch = tiny_spec(tmp_path)
    from_scratch = trial_config(scratch, scratch.space.default_point()).hyp
    assert (from_scratch.scale, from_scratch.mixup) == (Hyperparameters().scale, Hyperparameters().mixup)
    assert with_weights(tmp_path, scale=0.3).hyp.scale == 0.3  # the job's values win over the file


def test_a_trial_with_its_own_weights_or_a_job_without_any_is_left_as_it_is(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    config = trial_config(spec, spec.space.default_point())
    assert starting_weights(config, None, "transfer") == config
    own = starting_weights(config, "parent.pt", "continue")
    assert starting_weights(own, "weights.pt", "transfer") == own
