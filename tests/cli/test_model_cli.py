"""The ``scaler model`` command line contract (run as a real subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from tests.scaler import reference_counts


def _scaler_command() -> list[str]:
    script = Path(sys.executable).parent / "scaler"
    if script.exists():
        return [str(script)]
    found = shutil.which("scaler")
    return [found] if found else [sys.executable, "-m", "cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_scaler_command(), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_show_json_for_p5():
    result = run("model", "show", "yolov4-p5", "--json", "--img", "640")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["name"] == "yolov4-p5"
    assert document["params"] == 70_834_012
    assert document["input_size"] == 640 and document["strides"] == [8, 16, 32]
    assert document["num_anchors_per_level"] == 4
    assert len(document["layers"]) == 32 and sum(document["layers"]) == document["params"]
    assert document["layers"][6] == 2_614_016
    assert 160 < document["gflops"] < 175


def test_show_table_and_overrides():
    result = run(
        "model",
        "show",
        "yolov4-p5",
        "--depth-multiple",
        "0.33",
        "--width-multiple",
        "0.5",
        "--stages",
        "6",
        "--classes",
        "3",
        "--img",
        "256",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["from", "n", "module", "arguments"]
    assert "strides 8/16/32/64" in lines[-1] and "parameters" in lines[-1]
    assert len(lines) == 1 + 43 + 1


def test_show_tiny_json_matches_darknet():
    document = json.loads(run("model", "show", "yolov4-tiny", "--json").stdout)
    assert document["params"] == reference_counts.darknet_tiny()
    assert document["strides"] == [16, 32] and document["input_size"] == 416


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("model", "show", "yolov4-p5", "--img", "650"), "input_size"),
        (("model", "show", "yolov4-p5", "--width-multiple", "0"), "width_multiple"),
        (("model", "show", "yolov4-p7", "--stages", "12"), "stages"),
        (("model", "show", "yolov5-xl"), "model"),
        (("model", "show", "missing.yaml"), "model"),
    ],
)
def test_invalid_requests_exit_2_naming_the_field(args, field):
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {field}:")
    assert "Traceback" not in result.stderr


def test_export_yaml_then_show_it(tmp_path):
    path = tmp_path / "csp.yaml"
    exported = run("model", "export", "yolov4-csp", "--format", "yaml", "-o", str(path))
    assert exported.returncode == 0, exported.stderr
    shown = json.loads(run("model", "show", str(path), "--json").stdout)
    assert shown["params"] == reference_counts.yolov4_csp()
    rescaled = json.loads(run("model", "show", str(path), "--json", "--classes", "1").stdout)
    assert rescaled["params"] == reference_counts.yolov4_csp(nc=1)


def test_export_onnx(tmp_path):
    path = tmp_path / "small.onnx"
    result = run(
        "model",
        "export",
        "yolov4-p5",
        "--depth-multiple",
        "0.33",
        "--width-multiple",
        "0.125",
        "--img",
        "64",
        "--format",
        "onnx",
        "-o",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    onnx.checker.check_model(onnx.load(path))


def test_list_presets():
    names = [line.split()[0] for line in run("model", "list").stdout.splitlines()]
    assert names == ["yolov4-csp", "yolov4-p5", "yolov4-p6", "yolov4-p7", "yolov4-tiny", "yolov4"]


def test_once_for_all_sub_network_from_the_command_line():
    full = json.loads(
        run("model", "show", "yolov4-p7", "--json", "--img", "256", "--width-multiple", "0.25").stdout
    )
    sub = json.loads(
        run(
            "model",
            "show",
            "yolov4-p7",
            "--json",
            "--img",
            "256",
            "--width-multiple",
            "0.25",
            "--drop-levels",
            "2",
        ).stdout
    )
    assert sub["strides"] == [8, 16, 32] and full["strides"] == [8, 16, 32, 64, 128]
    assert sub["name"].endswith("\\P7\\P6") and sub["params"] < full["params"]
    bad = run("model", "show", "yolov4-p5", "--drop-levels", "3")
    assert bad.returncode == 2 and bad.stderr.startswith("error: drop_levels:")


def test_weights_are_loaded_and_mismatches_rejected(tmp_path):
    import torch

    from scaler import ScalingPoint, build_model

    small = build_model(ScalingPoint(width_multiple=0.125, depth_multiple=0.33, input_size=64))
    weights = tmp_path / "small.pt"
    torch.save(small.state_dict(), weights)
    args = (
        "model",
        "export",
        "yolov4-p5",
        "--width-multiple",
        "0.125",
        "--depth-multiple",
        "0.33",
        "--img",
        "64",
    )
    good = run(*args, "--weights", str(weights), "--format", "onnx", "-o", str(tmp_path / "small.onnx"))
    assert good.returncode == 0, good.stderr
    wrong = run("model", "show", "yolov4-p5", "--weights", str(weights))
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: weights:")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    broken = run("model", "show", "yolov4-p5", "--weights", str(garbage))
    assert broken.returncode == 2 and broken.stderr.startswith("error: weights:")
