"""From a search point to the trial it runs: successive-halving trials restart their learning rate
at the rungs, others keep one cosine."""

from __future__ import annotations

import pytest

from search_spaces import parse_job_spec
from workers.search.points import trial_config


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
