"""From a search point to the trial it runs: successive-halving trials restart their learning rate
at the rungs, others keep one cosine."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from scaler import ScalingPoint, SpecError
from search_spaces import parse_job_spec
from workers.search.outcome import SearchTrial
from workers.search.points import trial_config, trial_config_of
from workers.training.hyp import Hyperparameters


@pytest.mark.parametrize(
    ("scheduler", "lr_schedule", "restarts"),
    [("moasha", "rungs", (6,)), ("asha", "rungs", (6,)), ("moasha", "run", ()), ("fifo", "rungs", ())],
)
def test_a_trial_restarts_its_schedule_at_the_rungs_it_may_be_cut_at(scheduler, lr_schedule, restarts):
    spec = parse_job_spec(
        {
            "scheduler": scheduler,
            "budget": {"epochs_per_trial": 18},
            "scheduling": {"grace_period": 6, "reduction_factor": 3, "lr_schedule": lr_schedule},
        }
    )
    config = trial_config(spec, spec.space.default_point())
    assert config.epochs == 18 and tuple(config.restarts) == restarts


def test_a_trial_holds_the_searched_point_and_hyperparameters_finished_and_typed():
    """The searched coordinates make the trial's ScalingPoint (the rest its defaults, the input
    size the trial's); the hyperparameters are the job's over the reference's; a finished trial's
    fitted anchors join its point; an invalid point fails when the trial is set up."""
    spec = parse_job_spec(
        {
            "space": {
                "architecture": {"input_size": [64], "width_multiple": {"low": 0.25, "high": 0.5}},
                "hyperparameters": {"base": {"lr0": 0.004}, "search": ["mixup"]},
            }
        }
    )
    point = {**spec.space.default_point(), "arch/width_multiple": 0.375, "hyp/mixup": 0.3}
    config = trial_config(spec, point)
    assert config.image_size == 64
    assert config.point == ScalingPoint(width_multiple=0.375, input_size=64, activation="mish")
    assert config.hyp == Hyperparameters(lr0=0.004, mixup=0.3)
    anchors = ((10.0, 13.0, 16.0, 30.0),) * 3
    finished = SearchTrial("t1", "completed", point, anchors=json.dumps(anchors))
    assert trial_config_of(spec, finished).point == replace(config.point, anchors=anchors)
    with pytest.raises(SpecError, match="stages"):
        trial_config(spec, {**point, "arch/stages": 9})
