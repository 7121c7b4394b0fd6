"""Latency on a registered target device: the runtimes give the same predictions, and on a real
two-node Ray cluster (started with ``ray start``, as docker-compose.yml's nodes are) a trial's
latency comes from the node that holds the device, with the device's threads and runtime."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from scaler import Detector, ScalingPoint, compound_scale
from search_spaces import JobSpec
from search_spaces.devices import TargetDevice
from tests.workers.search.trial_reports import tiny_spec
from workers.latency import measure_latency
from workers.runtimes import runner

# a Ray cluster of its own processes: with the other multi-process system tests, one at a time
pytestmark = pytest.mark.xdist_group("system")
RAY = str(Path(sys.executable).with_name("ray"))
ROOT = Path(__file__).resolve().parents[2]
# a search's driver: run_search on the cluster at argv[4]; prints its one trial as JSON
SEARCH = """
import json, sys
from pathlib import Path
from search_spaces import parse_job_spec
from search_spaces.devices import TargetDevice
from workers.search.run import run_search
spec = parse_job_spec(json.loads(Path(sys.argv[1]).read_text()))
device = TargetDevice(**json.loads(sys.argv[2]))
result = run_search(spec, sys.argv[3], target_device=device, export_front=False, ray_address=sys.argv[4])
(trial,) = result.trials
stats = trial.latency_stats.to_dict() if trial.latency_stats else None
record = {"status": str(trial.status), "error": trial.error, "latency_ms": trial.latency_ms}
print(json.dumps({**record, "stats": stats}))
"""
DEVICE = TargetDevice(name="test-box", kind="cpu", runtime="onnxruntime", threads=2)


def tiny_model(input_size: int = 64) -> Detector:
    point = ScalingPoint(depth_multiple=0.33, width_multiple=0.125, input_size=input_size, num_classes=2)
    return Detector(compound_scale(point).to_network()).eval()


def test_onnxruntime_computes_what_eager_torch_does_and_is_timed_the_same_way() -> None:
    model = tiny_model()
    image = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        with runner("torch", model, image, threads=1) as eager:
            expected = eager().float()
        with runner("onnxruntime", model, image, threads=1) as exported:
            got = exported()
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-3, atol=1e-2)
    stats = measure_latency(model, "cpu", 64, runtime="onnxruntime", threads=1, rounds=1)
    assert stats.runtime == "onnxruntime" and stats.threads == 1 and stats.estimate_ms > 0
    with pytest.raises(ValueError, match="runtime"):
        measure_latency(model, "cpu", 64, runtime="tflite", rounds=1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes_holding(text: str) -> list[int]:
    """PIDs whose command line holds ``text`` (this cluster's temp dir): never another Ray."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in command:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[str, str]]:
    """A head that trains (2 CPUs) and a second node without CPUs that holds ``test-box``, both
    started with ``ray start`` in a temp dir of their own (stopped by killing what runs in it, not
    ``ray stop``, which would stop every Ray on the machine); the test process is the driver.
    Yields the second node's id and the head's address."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    temp_dir = f"/tmp/scaler-devices-{secrets.token_hex(4)}"  # short: socket paths stay < 108 bytes
    # no token: a driver's Ray reads its auth mode when imported (here: disabled, a driver's
    # default), and these nodes listen on the loopback of a test machine only
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-gpus=0", "--disable-usage-stats"]
    head = [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false", *common]
    head.append(f"--temp-dir={temp_dir}")
    holder = [RAY, "start", f"--address={address}", "--num-cpus=0", *common]
    holder.append(f"--resources={json.dumps({DEVICE.resource: 1})}")
    try:
        for command in (head, holder):
            started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert started.returncode == 0, started.stdout + started.stderr
        ray.init(address=address, log_to_driver=False)
        nodes = [node for node in ray.nodes() if node["Alive"] and DEVICE.resource in node["Resources"]]
        assert len(nodes) == 1
        yield nodes[0]["NodeID"], address
    finally:
        ray.shutdown()
        for pid in _processes_holding(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_a_measurement_runs_on_the_node_that_holds_the_device(two_nodes: tuple[str, str]) -> None:
    import ray

    from workers.devices import DeviceUnavailableError, measure_on_device, require_carrier

    model = tiny_model()
    stats = measure_on_device(DEVICE, model.spec, 64, runs=30, rounds=1)
    driver = ray.get_runtime_context().get_node_id()
    assert stats.node_id == two_nodes[0] and stats.node_id != driver
    assert (stats.target, stats.runtime, stats.threads, stats.batch) == ("test-box", "onnxruntime", 2, 1)
    require_carrier(DEVICE)
    elsewhere = TargetDevice(name="nowhere", kind="cpu")
    with pytest.raises(DeviceUnavailableError, match="device:nowhere"):
        require_carrier(elsewhere)


@pytest.mark.slow
def test_a_search_s_latencies_come_from_the_device_s_node_not_the_training_one(
    two_nodes: str, synth_dataset: Path, tmp_path: Path
) -> None:
    from workers.devices import DeviceUnavailableError
    from workers.search.run import run_search

    def job(device: str) -> JobSpec:
        return tiny_spec(
            synth_dataset,
            objectives={"latency": {"device": device}},
            budget={"max_trials": 1, "epochs_per_trial": 1, "cpus_per_trial": 1},
            searcher="random",
            scheduler="fifo",
        )

    # the search's driver is a process of its own, as the service's runner is
    spec = job(DEVICE.name)
    (tmp_path / "spec.json").write_text(spec.model_dump_json())
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(ROOT)}
    arguments = [
        str(tmp_path / "spec.json"),
        DEVICE.model_dump_json(),
        str(tmp_path / "search"),
        two_nodes[1],
    ]
    driver = subprocess.run(
        [sys.executable, "-c", SEARCH, *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    trial = json.loads(driver.stdout.strip().splitlines()[-1])
    assert trial["status"] == "completed", trial["error"]
    stats = trial["stats"]
    assert stats is not None and stats["node_id"] == two_nodes[0] and stats["target"] == DEVICE.name
    assert (stats["threads"], stats["runtime"]) == (2, "onnxruntime")  # the device's, not the trial's
    assert trial["latency_ms"] == pytest.approx(stats["estimate_ms"])

    nowhere = job("nowhere")
    with pytest.raises(DeviceUnavailableError, match="device:nowhere"):
        run_search(
            nowhere,
            tmp_path / "nowhere",
            target_device=TargetDevice(name="nowhere", kind="cpu"),
            export_front=False,
        )
    assert not (tmp_path / "nowhere" / "ray").exists()  # refused before any trial ran
