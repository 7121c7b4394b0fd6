"""Data roots re-checked where a trial opens its dataset: a dataset that was inside the roots at
the door but points outside by the time the trial runs (a symlink swapped) fails the trial with the
reason, and nothing outside is read."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from search_spaces import parse_job_spec
from workers.data.open import open_dataset
from workers.data.roots import DataRoots, OutsideRootsError
from workers.search.candidate import prepare
from workers.search.points import trial_config
from workers.trial import TrialConfig, run_trial


@pytest.fixture
def swapped(synth_dataset: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(root, dataset): the dataset lies in root, but its train images are a symlink to a copy
    outside it."""
    root = tmp_path / "root"
    dataset = root / "synth"
    shutil.copytree(synth_dataset, dataset)
    outside = tmp_path / "outside"
    shutil.move(dataset / "images", outside)
    (dataset / "images").symlink_to(outside, target_is_directory=True)
    return root, dataset


def test_open_dataset_confined_refuses_what_resolves_outside(swapped, synth_dataset):
    root, dataset = swapped
    assert open_dataset(dataset).num_classes > 0  # unconfined (the command line) reads it
    with pytest.raises(OutsideRootsError, match="outside the allowed data roots"):
        open_dataset(dataset, DataRoots.of([root]))
    assert open_dataset(synth_dataset, DataRoots.of([synth_dataset.parent])).num_classes > 0
    with pytest.raises(OutsideRootsError):
        open_dataset(synth_dataset, DataRoots.of([]))  # no roots: nothing is allowed


def test_a_trial_with_the_service_roots_fails_with_the_reason(swapped):
    root, dataset = swapped
    config = TrialConfig(
        data=str(dataset), depth_multiple=0.33, width_multiple=0.125, image_size=64, epochs=1
    )
    result = run_trial(dataclasses.replace(config, data_roots=(str(root),)))
    assert result.status == "failed"
    assert "outside the allowed data roots" in (result.error or "")


def test_a_search_candidate_rechecks_the_roots(swapped):
    root, dataset = swapped
    spec = parse_job_spec({"dataset": str(dataset), "space": {"architecture": {"input_size": [64]}}})
    config = trial_config(spec, spec.space.default_point())
    with pytest.raises(OutsideRootsError):
        prepare(spec, dataclasses.replace(config, data_roots=(str(root),)))
