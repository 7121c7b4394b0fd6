"""Latency on the target device, measured as the paper and careful practitioners do.

The network is measured in its deployment form (BN folded, fused Mish, channels_last) at a
fixed batch and input size. On CPU: a fixed thread count, warm-up runs (and at least
``WARMUP_SECONDS``), then rounds of ≥ 30 timed runs with ``perf_counter``. On CUDA: optional
fp16, ``torch.cuda.synchronize`` and CUDA events around every run. Two figures, as in the paper:
the network alone, and network + NMS.

Why rounds: on a shared or virtual machine the speed drifts over seconds (measured on a 2-vCPU
VM: the medians of 30 runs of one network, taken back to back, 1.1–1.6× apart;
``bench/latency_noise.py``). Interference only ever slows a round down, so the estimate is the
lowest round median, and the rounds' spread is kept to flag a measurement the machine disturbed.
"""

from __future__ import annotations

import contextlib
import fcntl
import platform
import statistics
import tempfile
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from scaler import Detector
from search_spaces.devices import Precision
from workers.evaluation.nms import NMSConfig, non_max_suppression
from workers.results import LatencyStats
from workers.runtimes import runner

MIN_CPU_RUNS = 30
DEFAULT_ROUNDS = 3
WARMUP_SECONDS = 0.25  # CPU: warm up at least this long (allocator, oneDNN primitives, caches)
PRECISIONS = typing.get_args(Precision)  # fp32, fp16 (CUDA), int8 (ONNX Runtime on CPU)


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[int]:
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def exclusive_device(device: torch.device) -> Iterator[None]:
    """Never two CPU latency measurements at once on a machine (concurrent trials of a search
    would disturb each other's timings): an advisory lock on a file in the temp directory. A GPU
    is held whole by one trial, so it needs no lock."""
    if device.type != "cpu":
        yield
        return
    lock_path = Path(tempfile.gettempdir()) / "scaler-latency-cpu.lock"
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_name(device: str) -> str:
    """What ``device`` is: the GPU's name for a CUDA device, else the CPU's model."""
    target = torch.device(device)
    return torch.cuda.get_device_name(target) if target.type == "cuda" else _cpu_name()


def _driver_version() -> str | None:
    try:
        import pynvml  # optional: only on GPU machines

        pynvml.nvmlInit()
        return str(pynvml.nvmlSystemGetDriverVersion())
    except Exception:  # no NVML here: no driver figure
        return None


def warm_up(run: Callable[[], object], warmup: int, cuda: bool) -> None:
    began = time.perf_counter()
    done = 0
    while done < warmup or (not cuda and done < 1000 and time.perf_counter() - began < WARMUP_SECONDS):
        run()
        done += 1
    if cuda:
        torch.cuda.synchronize()


def time_runs(run: Callable[[], object], runs: int, cuda: bool) -> list[float]:
    timings = []
    for _ in range(runs):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            run()
            end.record()
            torch.cuda.synchronize()
            timings.append(float(start.elapsed_time(end)))
        else:
            began = time.perf_counter()
            run()
            timings.append((time.perf_counter() - began) * 1000)
    return timings


def summarise_rounds(per_round: Sequence[Sequence[float]]) -> dict[str, Any]:
    """The figures of ``LatencyStats`` from each round's timings (ms): pooled p50, p95, mean and
    standard deviation; each round's median; the estimate (lowest round median) and the spread
    (highest over lowest round median)."""
    ordered = sorted(value for timings in per_round for value in timings)
    round_medians = tuple(statistics.median(timings) for timings in per_round)
    lowest = min(round_medians)
    return {
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "mean_ms": statistics.fmean(ordered),
        "std_ms": statistics.pstdev(ordered),
        "round_p50_ms": round_medians,
        "estimate_ms": lowest,
        "spread": max(round_medians) / lowest if lowest > 0 else 1.0,
    }


def measure_latency(
    model: Detector,
    device: str = "cpu",
    input_size: int | None = None,
    batch: int = 1,
    precision: str = "fp32",
    include_nms: bool = False,
    *,
    runs: int = MIN_CPU_RUNS,
    rounds: int = DEFAULT_ROUNDS,
    warmup: int = 5,
    threads: int | None = None,
    nms: NMSConfig | None = None,
    runtime: str = "torch",
) -> LatencyStats:
    """Latency of ``model`` (its deployment form; the model itself is not changed) in ``runtime``
    (``workers.runtimes``): ``rounds`` rounds of ``runs`` timed runs each, after ``warmup`` runs."""
    target = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and target.type != "cuda":
        raise ValueError("precision: fp16 latency needs a CUDA device")
    if target.type == "cpu" and runs < MIN_CPU_RUNS:
        raise ValueError(f"runs: at least {MIN_CPU_RUNS} timed runs on CPU, got {runs}")
    if runs < 1 or rounds < 1:
        raise ValueError(f"runs, rounds: at least 1 each, got runs={runs}, rounds={rounds}")
    size = input_size or model.spec.input_size
    if size % model.input_multiple:
        raise ValueError(f"input_size: {size} is not a multiple of {model.input_multiple}")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    image = torch.rand(batch, 3, size, size, device=target, dtype=dtype).contiguous(
        memory_format=torch.channels_last
    )
    settings = nms or NMSConfig()
    cuda = target.type == "cuda"
    with (
        exclusive_device(target),
        _threads(threads if not cuda else None) as thread_count,
        runner(runtime, model, image, thread_count if not cuda else None, precision) as forward,
        torch.inference_mode(),
    ):

        def run() -> object:
            predictions = forward()
            return non_max_suppression(predictions.float(), settings) if include_nms else predictions

        warm_up(run, warmup, cuda)
        per_round = [time_runs(run, runs, cuda) for _ in range(rounds)]
    return LatencyStats(
        **summarise_rounds(per_round),
        runs=runs,
        warmup=warmup,
        device=str(target),
        device_name=hardware_name(str(target)),
        torch_version=torch.__version__,
        cuda_version=torch.version.cuda if cuda else None,
        driver_version=_driver_version() if cuda else None,
        threads=thread_count,
        precision=precision,
        batch=batch,
        input_size=size,
        include_nms=include_nms,
        rounds=rounds,
        runtime=runtime,
    )


def measure_both(
    model: Detector, device: str = "cpu", **options: object
) -> tuple[LatencyStats, LatencyStats]:
    """The paper's two figures: (network only, network + NMS)."""
    network_only = measure_latency(model, device, include_nms=False, **options)  # type: ignore[arg-type]
    with_nms = measure_latency(model, device, include_nms=True, **options)  # type: ignore[arg-type]
    return network_only, with_nms
