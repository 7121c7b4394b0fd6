"""bench/gpu_check.py, the prepared GPU check of issue 25: it runs end to end on the CPU
(``--smoke``), writing a row for every network, batch and runtime, measured or skipped with a
reason; a spent budget skips what is left instead of running it; and nothing it imports needs
ray, optuna or mlflow, which the GPU machine does not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.py"
NETWORKS = ("yolov4-tiny", "yolov4-csp")
BATCHES = (1, 2)
RUNTIMES = (("torch", "fp32"), ("torch", "fp16"), ("onnxruntime", "fp32"), ("tensorrt", "fp16"))


def _run(tmp_path: Path, *arguments: str) -> list[dict]:
    out = tmp_path / "gpu-check.jsonl"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "SCALER_FUSED_MISH": "0"}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(out), *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return [json.loads(line) for line in out.read_text().splitlines()]


def _latency_rows(rows: list[dict]) -> dict[tuple, dict]:
    latency = {}
    for row in rows:
        if row["kind"] == "latency":
            key = (row["network"], row["batch"], row["runtime"], row["precision"])
            assert key not in latency, f"two rows for {key}"
            latency[key] = row
    expected = {
        (network, batch, runtime, precision)
        for network in NETWORKS
        for batch in BATCHES
        for runtime, precision in RUNTIMES
    }
    assert set(latency) == expected
    return latency


@pytest.mark.slow
def test_smoke_run_measures_or_skips_every_row(tmp_path):
    rows = _run(tmp_path)
    errors = [row for row in rows if "error" in row]
    assert not errors, errors
    assert rows[0]["kind"] == "machine" and rows[0]["device"] == "cpu"
    for (_, _, runtime, precision), row in _latency_rows(rows).items():
        assert row["input_size"] == 32
        if runtime == "tensorrt" or precision == "fp16":  # CUDA only
            assert row["skipped"] == "no CUDA", row
        else:  # eager torch, and ONNX Runtime on its CPU provider under --smoke
            assert row["estimate_ms"] > 0 and row["device"] == "cpu", row
            assert row["runs"] == 30 and row["rounds"] == 1
    (model,) = [row for row in rows if row["kind"] == "latency_model"]
    assert model["calibration_networks"] == 10 and model["held_out_networks"] == 4
    assert 0 <= model["model"]["within"] <= 1 and -1 <= model["model"]["spearman"] <= 1
    assert model["repeat"]["count"] == 4 and len(model["held_out"]) == 4
    timed = [row for row in rows if row["kind"] == "latency_model_network"]
    assert [row["phase"] for row in timed] == ["calibration"] * 10 + ["held_out"] * 4
    (training,) = [row for row in rows if row["kind"] == "training"]
    assert training["amp"] is False and training["epochs"] == 1  # AMP is CUDA's
    assert training["seconds_per_epoch"] > 0 and 0 <= training["final_ap"] <= 1
    (imports,) = [row for row in rows if row["kind"] == "imports"]
    assert imports["forbidden_loaded"] == []
    assert rows[-1]["kind"] == "done"


def test_a_spent_budget_skips_what_is_left(tmp_path):
    rows = _run(tmp_path, "--budget-minutes", "0")
    for row in _latency_rows(rows).values():
        assert row["skipped"] in ("time budget", "no CUDA"), row
    skipped = {row["kind"]: row["skipped"] for row in rows if row["kind"] in ("latency_model", "training")}
    assert skipped == {"latency_model": "time budget", "training": "time budget"}
    assert rows[-1]["kind"] == "done"


def test_its_imports_need_no_ray_optuna_or_mlflow():
    check = (
        "import importlib, json, sys\n"
        "sys.path.insert(0, 'bench')\n"
        "import gpu_check\n"
        "for name in gpu_check.PART_MODULES:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps([name for name in gpu_check.FORBIDDEN if name in sys.modules]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(completed.stdout.splitlines()[-1]) == []
