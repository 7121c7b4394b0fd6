"""``scaler search`` as a subprocess: the JSON contract, errors naming the field, and resuming a
search whose process was killed mid-way without losing or repeating finished trials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cli.test_model_cli import run

SPEC = {
    "name": "cli",
    "space": {
        "architecture": {
            "input_size": [64, 96],
            "stages": [5],
            "depth_multiple": {"low": 0.33, "high": 0.33},
            "width_multiple": {"low": 0.125, "high": 0.25},
        },
        "hyperparameters": {"base": {"lr0": 0.004, "warmup_epochs": 0.5, "mosaic": 0.0}, "search": ["lr0"]},
    },
    "budget": {"max_trials": 3, "epochs_per_trial": 1},
    "training": {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam"},
    "searcher": "evolve",
    "scheduler": "fifo",
    "evolution": {"initial_random": 1},
}


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def test_bad_searches_exit_2_naming_the_field(tmp_path, spec_file, synth_dataset):
    unknown = run("search", "no-such-preset", "--data", str(synth_dataset))
    assert unknown.returncode == 2 and "preset: unknown preset 'no-such-preset'" in unknown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SPEC, "budget": {"max_trials": 0}}))
    invalid = run("search", str(bad), "--data", str(synth_dataset))
    assert invalid.returncode == 2 and "budget.max_trials" in invalid.stderr
    missing = run("search", str(spec_file))
    assert missing.returncode == 2 and "--data" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    no_data = run("search", str(spec_file), "--data", str(empty))
    assert no_data.returncode == 2 and str(empty) in no_data.stderr
    weights_spec = tmp_path / "weights.yaml"
    weights_spec.write_text(yaml.safe_dump({**SPEC, "training": {"initial_weights": "job:abc/def"}}))
    service_only = run("search", str(weights_spec), "--data", str(synth_dataset))
    assert service_only.returncode == 2 and "--initial-weights" in service_only.stderr
    missing_weights = run(
        "search", str(spec_file), "--data", str(synth_dataset), "--initial-weights", "nope.pt"
    )
    assert missing_weights.returncode == 2 and "--initial-weights" in missing_weights.stderr


def _search(spec_file: Path, data: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "cli",
        "search",
        str(spec_file),
        "--data",
        str(data),
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


@pytest.mark.slow
def test_a_killed_search_resumes_without_losing_or_repeating_trials(spec_file, synth_dataset, tmp_path):
    out = tmp_path / "search"
    first = _search(spec_file, synth_dataset, out)
    finished_lines = []
    deadline = time.monotonic() + 400
    assert first.stderr is not None
    while len(finished_lines) < 1 and time.monotonic() < deadline:
        line = first.stderr.readline()
        if not line and first.poll() is not None:
            break
        if line.startswith("["):
            finished_lines.append(line)
    assert len(finished_lines) == 1, "the first run did not finish a trial"
    os.killpg(first.pid, signal.SIGKILL)  # the coordinator dies mid-search
    first.wait()
    finished_before = {line.split()[2].rstrip(":") for line in finished_lines}

    second = _search(spec_file, synth_dataset, out, "--resume", "--json")
    stdout, stderr = second.communicate(timeout=500)
    assert second.returncode == 0, stderr[-3000:]
    document = json.loads(stdout.strip().splitlines()[-1])
    trials = {trial["trial_id"]: trial for trial in document["trials"]}
    assert len(trials) == 3  # the whole budget, nothing lost, nothing extra
    assert finished_before <= set(trials)
    configs = [json.dumps(trial["config"], sort_keys=True) for trial in trials.values()]
    assert len(set(configs)) == 3  # no configuration evaluated twice
    assert all(trial["status"] == "completed" for trial in trials.values())
    assert all(trial["latency_ms"] > 0 and trial["latency_spread"] >= 1 for trial in trials.values())
    assert document["front"] and document["hypervolume"] > 0 and document["mlflow_run_id"]
