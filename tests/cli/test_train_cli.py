"""``scaler data synth`` and ``scaler train`` as subprocesses: the JSON contract, the training
recipe each run chooses (and that the trainer used it) and the errors."""

from __future__ import annotations

import json
from pathlib import Path

from cli.train_command import REFERENCE, SHORT, SHORT_RUN_EPOCHS, choose_recipe
from search_spaces import SHORT_RECIPE_PART, preset_document
from tests.cli.test_model_cli import run
from workers.training.checkpoint import load_checkpoint
from workers.training.hyp import Hyperparameters

# the size of network the runs train: small enough for a few seconds an epoch on a CPU
SMALL_NETWORK = (
    "--model",
    "yolov4-p5",
    "--depth-multiple",
    "0.33",
    "--width-multiple",
    "0.125",
    "--img",
    "64",
)


def _synth(folder: Path) -> Path:
    data = folder / "synth"
    made = run("data", "synth", "--out", str(data), "--images", "8", "--val-images", "4", "--size", "64")
    assert made.returncode == 0, made.stderr
    return data


def _trained_optimizer(checkpoint: Path) -> tuple[str, float]:
    """The optimizer the trainer stepped (Adam's groups carry betas, SGD's nesterov) and its lr0."""
    group = load_checkpoint(checkpoint)["optimizer"]["param_groups"][0]
    return ("adam" if "betas" in group else "sgd"), group["initial_lr"]


def test_synth_check_and_train_json(tmp_path):
    data = tmp_path / "synth"
    made = run(
        "data",
        "synth",
        "--out",
        str(data),
        "--images",
        "8",
        "--val-images",
        "4",
        "--size",
        "64",
        "--classes",
        "2",
    )
    assert made.returncode == 0, made.stderr
    checked = run("data", "check", str(data))
    assert checked.returncode == 0 and "train: 8 images" in checked.stdout and "2 classes" in checked.stdout
    trained = run(
        "train",
        "--model",
        "yolov4-p5",
        "--depth-multiple",
        "0.33",
        "--width-multiple",
        "0.125",
        "--data",
        str(data),
        "--img",
        "64",
        "--epochs",
        "2",
        "--batch",
        "4",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert trained.returncode == 0, trained.stderr
    document = json.loads(trained.stdout)
    assert document["status"] == "completed" and document["epochs"] == 2
    for key in ("ap", "ap50", "ap75", "params", "gflops", "train_seconds"):
        assert isinstance(document[key], int | float)
    for key in ("latency", "latency_with_nms"):
        assert {"p50_ms", "p95_ms", "device", "batch", "precision"} <= set(document[key])
        assert document[key]["device"] == "cpu" and document[key]["batch"] == 1
    assert (tmp_path / "run" / "last.pt").is_file()


def test_short_run_trains_with_the_short_recipe(tmp_path):
    """2 epochs: --recipe auto picks the short-budget recipe (the tiny-cpu presets' part), its
    batch when --batch is not given, and a --hyp file's keys over its hyperparameters."""
    recipe = preset_document(SHORT_RECIPE_PART)
    training, base = recipe["training"], recipe["space"]["hyperparameters"]["base"]
    hyp = tmp_path / "hyp.yaml"
    hyp.write_text("scale: 0.4\n")
    trained = run(
        "train",
        *SMALL_NETWORK,
        "--data",
        str(_synth(tmp_path)),
        "--epochs",
        "2",
        "--hyp",
        str(hyp),
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert trained.returncode == 0, trained.stderr
    document = json.loads(trained.stdout)
    assert document["status"] == "completed"
    assert document["recipe"] == {
        "name": SHORT,
        "reason": f"epochs 2 < {SHORT_RUN_EPOCHS}",
        "optimizer": training["optimizer"],
        "batch_size": training["batch_size"],
        "nominal_batch": training["nominal_batch"],
        "hyperparameters": Hyperparameters().replace(**{**base, "scale": 0.4}).to_dict(),
    }
    assert _trained_optimizer(tmp_path / "run" / "last.pt") == (training["optimizer"], base["lr0"])


def test_recipe_and_optimizer_chosen_on_the_command_line(tmp_path):
    """--recipe reference with --optimizer adam: the line says so, and the trainer stepped Adam at
    the reference's lr0."""
    reference_lr0 = Hyperparameters().lr0
    trained = run(
        "train",
        *SMALL_NETWORK,
        "--data",
        str(_synth(tmp_path)),
        "--epochs",
        "1",
        "--batch",
        "4",
        "--recipe",
        REFERENCE,
        "--optimizer",
        "adam",
        "--out",
        str(tmp_path / "run"),
    )
    assert trained.returncode == 0, trained.stderr
    first_line = trained.stdout.splitlines()[0]
    assert first_line.startswith(
        "recipe: reference (--recipe reference): adam (--optimizer), batch 4 (nominal "
    )
    assert f"lr0 {reference_lr0:g}" in first_line and "done: AP" in trained.stdout
    assert _trained_optimizer(tmp_path / "run" / "last.pt") == ("adam", reference_lr0)


def test_auto_recipe_follows_the_budget():
    assert choose_recipe("auto", SHORT_RUN_EPOCHS - 1) == (
        SHORT,
        f"epochs {SHORT_RUN_EPOCHS - 1} < {SHORT_RUN_EPOCHS}",
    )
    assert choose_recipe("auto", SHORT_RUN_EPOCHS) == (
        REFERENCE,
        f"epochs {SHORT_RUN_EPOCHS} ≥ {SHORT_RUN_EPOCHS}",
    )
    assert choose_recipe(SHORT, 300) == (SHORT, "--recipe short")


def test_train_errors(tmp_path):
    bad_hyp = tmp_path / "hyp.yaml"
    bad_hyp.write_text("lr0: -3\n")
    result = run("train", "--data", str(tmp_path), "--hyp", str(bad_hyp))
    assert result.returncode == 2 and result.stderr.startswith("error: lr0:")
    missing = run("train", "--data", str(tmp_path / "nowhere"), "--epochs", "1", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["status"] == "failed" and "does not exist" in missing.stderr
    optimizer = run("train", "--data", str(tmp_path), "--optimizer", "rmsprop")
    assert optimizer.returncode == 2
    assert "Invalid value for '--optimizer': 'rmsprop' is not one of sgd, adam" in optimizer.stderr
    recipe = run("train", "--data", str(tmp_path), "--recipe", "long")
    assert recipe.returncode == 2 and "Invalid value for '--recipe': 'long' is not one of" in recipe.stderr
    broken = run("data", "check", str(tmp_path))
    assert broken.returncode == 2 and "no dataset.yaml" in broken.stderr


def test_the_train_commands_defaults_are_a_trials():
    """``scaler train`` without an option trains as a trial does by default (the option defaults
    are shown in its help, so they are written there: this holds them to TrialConfig's)."""
    from dataclasses import fields

    from cli.train_command import train
    from workers.trial import TrialConfig

    options = {parameter.name: parameter.default for parameter in train.params}
    trial = {item.name: item.default for item in fields(TrialConfig)}
    shared = {"model_name": "model", "image_size": "image_size", "epochs": "epochs", "device": "device"}
    shared |= {"workers": "workers", "seed": "seed"}
    assert {option: options[option] for option in shared} == {
        option: trial[name] for option, name in shared.items()
    }
