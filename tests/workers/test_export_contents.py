"""A complete export: hyp.yaml holds every key the reference train.py reads (spec §5) and the
optimizer, and its README.txt says what the files are and how to load, train and deploy them, with
commands that work on the export itself."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner

import workers.api
from scaler import Detector
from scaler.weight_source import read_weight_source
from workers.data.open import open_dataset
from workers.export import DATASET_PLACEHOLDER, FILES, README, export_trial, zip_export
from workers.training.hyp import OPTIMIZER_KEY, Hyperparameters, HypError
from workers.trial import TrialConfig, build_network

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec" / "scaled-yolov4-reference.md"
POINT = {"family": "large", "stages": 5, "depth_multiple": 0.33, "width_multiple": 0.125}
METRICS: dict[str, Any] = {
    "trial_id": "t0007",
    "ap": 0.4321,
    "ap50": 0.6543,
    "epochs": 3,
    "latency_ms": 12.345,
    "latency_nms_ms": 13.5,
    "latency_stats": {"device": "cpu", "device_name": "Test CPU", "batch": 1, "precision": "fp32"},
    "params": 123456,
    "gflops": 0.25,
}


def _config(synth_dataset: Path, **changes: Any) -> TrialConfig:
    hyp = Hyperparameters().replace(box=0.07, scale=0.8, mixup=0.2)
    values = {"data": str(synth_dataset), "point": POINT, "image_size": 64, "epochs": 3, "hyp": hyp}
    return TrialConfig.from_dict({**values, "batch_size": 8, "optimizer": "adam", **changes})


def _trained_export(synth_dataset: Path, folder: Path, onnx: bool) -> Path:
    config = _config(synth_dataset)
    torch.manual_seed(3)
    network = build_network(config, open_dataset(config.data).num_classes)
    checkpoint = folder.parent / "trainer.pt"
    torch.save({"model": Detector(network).state_dict(), "ema": Detector(network).state_dict()}, checkpoint)
    return export_trial(config, folder, METRICS, checkpoint=str(checkpoint), onnx=onnx)


def _reference_keys(section: str) -> list[str]:
    """The keys a reference hyp file of spec section ``section`` (5.1, 5.2) holds, in its order:
    the table's first column or the section's 'key value' pairs; as many as its heading says."""
    lines = SPEC.read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(f"### {section} "))
    end = next(index for index in range(start + 1, len(lines)) if lines[index].startswith(("#", "---")))
    body = lines[start + 1 : end]
    name = r"[a-z_][a-z0-9_]*"
    cells = [line.split("|")[1].split()[0] for line in body if line.startswith("|")]  # header, rule, keys
    if cells:
        keys = [cell for cell in cells if re.fullmatch(name, cell) and cell != "key"]
    else:
        keys = re.findall(rf"\b({name}) \d", " ".join(body))
    count = int(re.search(r"\((\d+) keys", lines[start]).group(1))  # type: ignore[union-attr]
    assert len(keys) == count, f"spec §{section}: parsed {keys}, its heading says {count} keys"
    return keys


def _code_blocks(readme: str) -> list[str]:
    """README.txt's indented blocks (its commands and snippets), dedented."""
    blocks, current = [], []
    for line in [*readme.splitlines(), "end"]:
        if line.startswith("    ") or (current and not line.strip()):
            current.append(line)
        elif current:
            blocks.append(textwrap.dedent("\n".join(current)).strip())
            current = []
    return blocks


def _block(readme: str, opening: str) -> str:
    return next(block for block in _code_blocks(readme) if opening in block)


@pytest.mark.skipif(not SPEC.is_file(), reason=f"the reference spec {SPEC} is absent (../shared/spec)")
def test_hyp_yaml_holds_every_key_of_the_reference_hyp_files_and_the_optimizer(synth_dataset, tmp_path):
    large, csp = _reference_keys("5.1"), _reference_keys("5.2")
    assert "giou" in large and "box" in csp  # the two names of the box gain
    config = _config(synth_dataset)
    folder = export_trial(config, tmp_path / "export", {}, checkpoint=None, onnx=False)
    written = yaml.safe_load((folder / "hyp.yaml").read_text())
    assert sorted({*large, *csp} - set(written)) == []
    assert written[OPTIMIZER_KEY] == "adam"
    assert written["giou"] == written["box"] == 0.07
    assert list(written)[: len(csp) + 2] == [*csp[:8], "giou", *csp[8:15], "label_smoothing", *csp[15:]]
    assert Hyperparameters.from_yaml(folder / "hyp.yaml") == config.hyp  # read back as written


def test_a_hyp_file_that_gives_the_box_gain_two_values_or_an_unknown_optimizer_is_refused():
    with pytest.raises(HypError, match="giou: is the older name of box"):
        Hyperparameters.from_mapping({"box": 0.05, "giou": 0.07})
    with pytest.raises(HypError, match="optimizer: must be one of sgd, adam, got 'lamb'"):
        Hyperparameters.from_mapping({"lr0": 0.01, "optimizer": "lamb"})
    assert Hyperparameters.from_mapping({"giou": 0.07, "optimizer": "sgd"}).box == 0.07


def test_the_zip_holds_a_readme_whose_snippets_work_on_the_export(synth_dataset, tmp_path):
    archive = zip_export(_trained_export(synth_dataset, tmp_path / "export", onnx=True), tmp_path / "t.zip")
    with zipfile.ZipFile(archive) as bundle:
        members = set(bundle.namelist())
        bundle.extractall(tmp_path / "unpacked")
    assert members == set(FILES)
    readme = (tmp_path / "unpacked" / README).read_text()
    for fact in (
        "trial t0007",
        "AP 0.4321",
        "AP50 0.6543",
        "12.35 ms",
        "13.50 ms with NMS",
        "cpu (Test CPU)",
    ):
        assert fact in readme
    named = set(re.findall(r"[\w-]+\.(?:yaml|pt|onnx|json|txt)\b", "\n".join(_code_blocks(readme))))
    assert named and named <= members, f"commands name {sorted(named - members)}, not in the zip"
    assert all(f"  {name} " in readme for name in members)  # each file described
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    checks = {
        "load_export": "\nprint(tuple(predictions.shape), tuple(detections.shape)[1:])",
        "onnxruntime": "\nprint(predictions.shape)",
    }
    for opening, check in checks.items():
        snippet = _block(readme, opening) + check
        run = subprocess.run(
            [sys.executable, "-c", snippet],
            cwd=tmp_path / "unpacked",
            capture_output=True,
            text=True,
            env=environment,
        )
        assert run.returncode == 0, f"{opening} snippet failed:\n{snippet}\n{run.stderr}"
        assert "336, 8)" in run.stdout  # 3 levels x 3 anchors over a 64x64 input, 5 + 3 classes


def test_an_export_without_onnx_has_no_deploy_section(synth_dataset, tmp_path):
    folder = export_trial(_config(synth_dataset), tmp_path / "export", {}, checkpoint=None, onnx=False)
    readme = (folder / README).read_text()
    assert "model.onnx" not in readme and "untrained" in readme and "latency: not measured" in readme


def test_the_readmes_training_command_and_fine_tuning_snippet_train_this_export(
    synth_dataset, tmp_path, monkeypatch
):
    """The shown `scaler train` command and Python fine-tuning set up the trial's network,
    hyperparameters, optimizer and batch (run_trial stands in for the training itself)."""
    from cli.main import cli

    folder = _trained_export(synth_dataset, tmp_path / "export", onnx=False)
    readme = (folder / README).read_text()
    trained: list[TrialConfig] = []

    def run_trial(config: TrialConfig, **_: Any) -> SimpleNamespace:
        trained.append(config)
        return SimpleNamespace(status="stopped", metrics=SimpleNamespace(ap=0.0), error="not trained here")

    monkeypatch.setattr(workers.api, "run_trial", run_trial)
    monkeypatch.chdir(folder)
    command = shlex.split(_block(readme, "scaler train").replace(DATASET_PLACEHOLDER, str(synth_dataset)))
    assert command[:2] == ["scaler", "train"]
    outcome = CliRunner().invoke(cli, command[1:])
    assert trained, f"scaler train did not reach training: {outcome.output}"
    exec(_block(readme, "fine_tuning").replace(DATASET_PLACEHOLDER, str(synth_dataset)), {})
    expected = _config(synth_dataset)
    for config in trained:
        assert build_network(config, 3).layers == build_network(expected, 3).layers
        assert (config.image_size, config.batch_size, config.optimizer) == (64, 8, "adam")
        assert config.epochs == expected.epochs
    retrain, fine_tune = trained
    assert retrain.hyp == expected.hyp and retrain.init_weights is None
    assert fine_tune.hyp == expected.hyp.replace(lr0=expected.hyp.lr0 * expected.hyp.lrf, warmup_epochs=0.0)
    assert fine_tune.init_weights == "weights.pt" and read_weight_source(fine_tune.init_weights).spec


def test_an_older_exports_readme_takes_the_settings_it_does_not_record_from_the_trial_defaults(tmp_path):
    """An export whose metrics.json names none of the trial's settings (an older one) is described
    with TrialConfig's and LatencyTarget's defaults, which are written there alone."""
    from workers.export import describe_export
    from workers.trial import LatencyTarget

    (tmp_path / "point.json").write_text('{"input_size": 64, "num_classes": 1}')
    (tmp_path / "metrics.json").write_text('{"trial_config": {"data": "d"}, "latency_ms": 5.0}')
    readme = describe_export(tmp_path)
    trial, target = TrialConfig(data="d"), LatencyTarget()
    assert f"--epochs {trial.epochs} --batch {trial.batch_size} --optimizer {trial.optimizer}" in readme
    assert f"The trial's training: {trial.epochs} epochs on {trial.device}, {trial.optimizer}" in readme
    assert (
        f"per batch of {target.batch} at 64x64, {target.precision}, {target.runtime} on {target.device}"
        in readme
    )
