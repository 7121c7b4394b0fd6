"""``scaler data synth`` and ``scaler train`` as subprocesses: the JSON contract and the errors."""

from __future__ import annotations

import json

from tests.cli.test_model_cli import run


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


def test_train_errors(tmp_path):
    bad_hyp = tmp_path / "hyp.yaml"
    bad_hyp.write_text("lr0: -3\n")
    result = run("train", "--data", str(tmp_path), "--hyp", str(bad_hyp))
    assert result.returncode == 2 and result.stderr.startswith("error: lr0:")
    missing = run("train", "--data", str(tmp_path / "nowhere"), "--epochs", "1", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["status"] == "failed" and "does not exist" in missing.stderr
    broken = run("data", "check", str(tmp_path))
    assert broken.returncode == 2 and "no dataset.yaml" in broken.stderr
