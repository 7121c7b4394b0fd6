"""End to end: evolution of every augmentation strength (`augmentation: true`) on real Ray Tune,
on the built-in synthetic dataset, to the exported hyp.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from search_spaces import parse_job_spec
from search_spaces.hyp_meta import AUGMENTATION_KEYS, HYP_META
from tests.workers.search.trial_reports import tiny_spec

ray = pytest.importorskip("ray")


@pytest.mark.slow
def test_evolve_searches_every_augmentation_strength_and_exports_the_winners(
    local_ray, synth_dataset: Path, tmp_path: Path
) -> None:
    from workers.search.points import trial_config_of
    from workers.search.run import run_search

    document = tiny_spec(
        synth_dataset,
        name="augment",
        searcher="evolve",
        scheduler="fifo",
        evolution={"initial_random": 0},
        budget={"max_trials": 4, "epochs_per_trial": 1, "max_concurrent_trials": 1},
    ).model_dump(mode="json")
    document["space"]["hyperparameters"].update(search=[], augmentation=True)
    spec = parse_job_spec(document)

    result = run_search(spec, tmp_path / "search")

    trials = sorted(result.trials, key=lambda trial: trial.finished_at or 0.0)
    assert len(trials) == 4 and {trial.status for trial in trials} == {"completed"}
    first = spec.space.default_point()
    assert trials[0].point == first  # evolution starts from the base values
    for trial in trials:
        assert {name[4:] for name in trial.point if name.startswith("hyp/")} == set(AUGMENTATION_KEYS)
        for key in AUGMENTATION_KEYS:
            assert HYP_META[key].lower <= trial.point[f"hyp/{key}"] <= HYP_META[key].upper, key
    strengths = [tuple(trial.point[f"hyp/{key}"] for key in AUGMENTATION_KEYS) for trial in trials]
    assert len(set(strengths)) == len(strengths)  # every child moved some strength
    moved = {key for key in AUGMENTATION_KEYS if len({trial.point[f"hyp/{key}"] for trial in trials}) > 1}
    assert len(moved) >= len(AUGMENTATION_KEYS) // 2, moved
    at_zero = [key for key in AUGMENTATION_KEYS if first[f"hyp/{key}"] == 0]
    assert at_zero and any(trial.point[f"hyp/{key}"] > 0 for trial in trials[1:] for key in at_zero)

    # the winners' export: hyp.yaml holds the strengths each trained with
    assert result.front
    for trial_id in result.front:
        winner = next(trial for trial in trials if trial.trial_id == trial_id)
        exported = yaml.safe_load((Path(result.export_dir) / trial_id / "hyp.yaml").read_text())
        assert trial_config_of(spec, winner).hyp.to_hyp_file(spec.training.optimizer) == exported
        for key in AUGMENTATION_KEYS:
            assert exported[key] == pytest.approx(winner.point[f"hyp/{key}"]), key
