"""Everything issue 25 item 3 asks of a GPU, in one run of at most ~9 minutes on a lent machine.

In order of value, each piece started only while ``--budget-minutes`` has time left for it (what is
left is written as ``{"skipped": "time budget"}``):

1. latency of the released networks (``--presets``: yolov4-tiny, -csp, -p5, -p6, -p7 at their
   native input sizes) at batch 1 and 8 in eager torch, fp32 and fp16, timed by the project's own
   ``workers.latency.measure_latency`` (the deployment form, CUDA events, rounds);
2. the same in ONNX Runtime with the CUDA execution provider (fp32) and in TensorRT (fp16), where
   they run here; a runtime that does not is written as ``{"skipped": reason}``;
3. the latency model's accuracy on this GPU: calibrated on networks of a GPU-sized search space
   (``--space``, default ``p5-p7-large``, timed as the ``cuda-fp16`` device: eager torch, fp16,
   batch 1) and judged on held-out ones by ``bench/latency_model.py``'s ``judged`` — as many as
   the budget allows, up to ``--networks`` (default 24 + 24);
4. a short AMP training run: a small network on the built-in synthetic dataset
   (``workers.training.trainer``: autocast and a GradScaler on CUDA), seconds per epoch, final AP.

Every result is one JSON line, written (and flushed) as soon as it is measured, so a run killed at
its limit keeps what it measured; a measurement that fails is written with its error and the run
goes on. The last lines say which of ray, optuna and mlflow the run imported (none: the GPU
machine has none of them) and how long it took.

``--smoke`` runs every piece on the CPU at toy sizes (yolov4-tiny and -csp at 32 px, batch 1 and
2, one round, 10 + 4 networks of ``tiny-cpu`` at 64 px, one training epoch), with ONNX Runtime on
its CPU provider; fp16 and TensorRT are written as ``{"skipped": "no CUDA"}``
(``tests/bench/test_gpu_check.py``).

On the GPU machine (``bench/gpu_check.sh`` runs it; docs/benchmarks.md's "GPU" section says how to
call that): its image has torch, numpy, scipy, onnx, onnxruntime, pyyaml, pillow, protobuf and
sympy, but not pydantic or pycocotools, which the pieces import (no piece imports ray, optuna or
mlflow). They travel as wheels in ``.whl/``, at this project's versions, built for the image's
Python 3.12; typing-extensions too, since pydantic needs 4.16 or newer. Downloaded here, in the
repository's root::

    echo /.whl/ >> .git/info/exclude
    .venv/bin/python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \\
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \\
        --platform manylinux1_x86_64 -d .whl \\
        pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \\
        typing-extensions==4.16.0 pycocotools==2.0.11

(pydantic pins the one pydantic-core it was released with.) ONNX Runtime's GPU build
(``onnxruntime-gpu``) and TensorRT come as wheels of hundreds of megabytes, far over the 64 MiB a
call carries, so unless the image's own onnxruntime has a working CUDA provider, those rows are
written as skipped, with the reason.

    python3 bench/gpu_check.py --out gpu-check.jsonl        # on the GPU machine
    SCALER_FUSED_MISH=0 python bench/gpu_check.py --smoke --out /tmp/smoke.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RELEASED = ("yolov4-tiny", "yolov4-csp", "yolov4-p5", "yolov4-p6", "yolov4-p7")
TORCH_RUNTIMES = (("torch", "fp32"), ("torch", "fp16"))
OTHER_RUNTIMES = (("onnxruntime", "fp32"), ("tensorrt", "fp16"))
FORBIDDEN = ("ray", "optuna", "mlflow")  # not on the GPU machine's image
OPTIONAL = ("pydantic", "scipy", "pycocotools", "onnx", "onnxruntime", "tensorrt")
# every module the pieces import (lazily, inside them): the import check imports these
PART_MODULES = (
    "scaler",
    "scaler.blocks.activations",
    "scaler.profile",
    "search_spaces",
    "workers.latency",
    "workers.latency_model",
    "workers.runtimes",
    "workers.data.open",
    "workers.data.synth",
    "workers.training.trainer",
    "latency_model",  # bench/latency_model.py
    "recipe",  # bench/recipe.py
)
# seconds a piece needs at least before it is started (a measurement of p7 at batch 8 in fp32 is
# the longest torch one; an ONNX export and engine build of p7 takes a minute or more)
TORCH_PIECE_SECONDS = 20.0
OTHER_PIECE_SECONDS = 60.0
MODEL_PIECE_SECONDS = 60.0
# the judgement counts every timed network's features again (a meta-device forward: 0.5–2 s for a
# p5-p7-large network on this project's CPU), so the timing loops stop this much per network early
FIT_SECONDS_PER_NETWORK = 1.0
TRAINING_PIECE_SECONDS = 15.0  # and the least left after an epoch for the next one
CALIBRATION_SHARE = 0.5  # of the latency model's time, before the held-out networks
RECOMPILE_LIMIT = 64


class TimeBudgetSpentError(Exception):
    """Raised after the training epoch that leaves too little of the budget: ends the run there."""


class Budget:
    """The run's time: ``minutes`` from its start, and what each piece may still use."""

    def __init__(self, minutes: float) -> None:
        self.started = time.monotonic()
        self.seconds = minutes * 60

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def allows(self, seconds: float) -> bool:
        return self.left() >= seconds


class Recorder:
    """Writes each row as one JSON line to stdout and appends it to ``path`` at once."""

    def __init__(self, path: Path | None, budget: Budget) -> None:
        self.path = path
        self.budget = budget
        self.rows: list[dict[str, Any]] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, row: dict[str, Any]) -> dict[str, Any]:
        row = {**row, "elapsed_s": round(self.budget.elapsed(), 1)}
        line = json.dumps(row, default=str)
        print(line, flush=True)
        if self.path is not None:
            with self.path.open("a") as handle:
                handle.write(line + "\n")
        self.rows.append(row)
        return row


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def attempt(recorder: Recorder, row: dict[str, Any], measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``row`` with what ``measure`` returns, or with its error; written either way."""
    try:
        row = {**row, **measure()}
    except Exception as error:  # one failed measurement is a row, never the end of the run
        traceback.print_exc()
        row = {**row, "error": describe(error)}
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return recorder.write(row)


def build_on(device: str, make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """``make()`` in eval mode on ``device``: built there directly on a GPU (initialising a P7 on
    the CPU takes seconds), on the CPU and moved if that fails."""
    if device.startswith("cuda"):
        try:
            with torch.device(device):
                return make().eval()
        except Exception:
            traceback.print_exc()
    return make().eval().to(device)


def fused_mish_status(device: str) -> str:
    """Whether the deployment form's fused Mish kernel compiles on ``device`` (in fp32 and, on a GPU,
    fp16); where it does not, ``SCALER_FUSED_MISH=0`` makes every measurement use eager Mish."""
    if os.environ.get("SCALER_FUSED_MISH", "1") == "0":
        return "eager (SCALER_FUSED_MISH=0)"
    import torch._dynamo

    from scaler.blocks.activations import fast_mish, mish_kernel

    # the kernel is compiled once per device, dtype, layout and batch of one or more: keep every
    # variant this run meets compiled (past dynamo's limit of 8 it would run eager, unannounced)
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(RECOMPILE_LIMIT, getattr(torch._dynamo.config, name)))
    try:
        for dtype in (torch.float32, torch.float16) if device.startswith("cuda") else (torch.float32,):
            # within ±8: eager fast_mish overflows fp16 above x ≈ 10 (its exp is clamped at 20 only)
            probe = torch.linspace(-8.0, 8.0, 2048, device=device, dtype=dtype).view(2, 4, 16, 16)
            with torch.inference_mode():
                if not torch.allclose(mish_kernel()(probe), fast_mish(probe), rtol=1e-2, atol=1e-3):
                    raise RuntimeError(f"compiled Mish disagrees with the eager one in {dtype}")
    except Exception as error:
        traceback.print_exc()
        os.environ["SCALER_FUSED_MISH"] = "0"
        return f"eager (the fused kernel failed: {describe(error)})"
    return "fused" if mish_kernel() is not fast_mish else "eager (no compiler here)"


def onnxruntime_device(cuda: bool, smoke: bool) -> tuple[str | None, str]:
    """(the device ONNX Runtime is timed on, or None, and why): the CUDA provider where a session
    really gets it (ONNX Runtime falls back to its CPU provider when the CUDA libraries do not
    load), the CPU provider under ``--smoke`` without CUDA."""
    try:
        import onnx
        import onnxruntime
    except ImportError as missing:
        return None, f"onnxruntime is not importable ({missing})"
    if not cuda:
        return ("cpu", "no CUDA: the CPU provider (--smoke)") if smoke else (None, "no CUDA")
    providers = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" not in providers:
        return None, f"ONNX Runtime {onnxruntime.__version__} here has no CUDAExecutionProvider ({providers})"
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])],
        "probe",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
    )
    probe = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    probe.ir_version = 8
    try:
        session = onnxruntime.InferenceSession(probe.SerializeToString(), providers=["CUDAExecutionProvider"])
    except Exception as error:
        return None, f"a CUDAExecutionProvider session failed: {describe(error)}"
    if session.get_providers()[0] != "CUDAExecutionProvider":
        return None, f"the CUDAExecutionProvider did not load (the session got {session.get_providers()})"
    return "cuda", f"ONNX Runtime {onnxruntime.__version__}, CUDAExecutionProvider"


def tensorrt_device(cuda: bool) -> tuple[str | None, str]:
    if not cuda:
        return None, "no CUDA"
    if importlib.util.find_spec("tensorrt") is None:
        return None, "tensorrt is not importable"
    return "cuda", "TensorRT"


def machine_row(args: argparse.Namespace, device: str) -> dict[str, Any]:
    from workers.latency import hardware_name

    versions = {}
    for name in ("onnxruntime", "onnx", "tensorrt", "pydantic", "scipy", "numpy"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception as error:
            versions[name] = f"missing ({type(error).__name__})"
    cuda = device.startswith("cuda")
    return {
        "kind": "machine",
        "device": device,
        "device_name": hardware_name(device),
        "gpu_memory_gib": torch.cuda.get_device_properties(0).total_memory / 2**30 if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "tf32_convolutions": torch.backends.cudnn.allow_tf32,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "threads": torch.get_num_threads(),
        "versions": versions,
        "smoke": args.smoke,
        "arguments": {key: value for key, value in vars(args).items() if key != "out"},
    }


def stats_row(stats: Any, gflops: float) -> dict[str, Any]:
    """The figures of a ``LatencyStats`` a table needs, and the achieved TFLOP/s of convolutions."""
    keep = ("estimate_ms", "p50_ms", "p95_ms", "mean_ms", "spread", "round_p50_ms", "runs", "rounds")
    row = {key: getattr(stats, key) for key in keep}
    row |= {"warmup": stats.warmup, "threads": stats.threads, "device_name": stats.device_name}
    row |= {"cuda_version": stats.cuda_version, "driver_version": stats.driver_version}
    row["conv_tflops_per_s"] = gflops * stats.batch / stats.estimate_ms if stats.estimate_ms > 0 else None
    return row


def released_latency(
    args: argparse.Namespace,
    device: str,
    runtimes: tuple[tuple[str, str], ...],
    places: dict[str, tuple[str | None, str]],
    budget: Budget,
    recorder: Recorder,
    models: dict[str, Any],
    piece_seconds: float,
) -> None:
    """One row per preset × batch × (runtime, precision) of ``runtimes``: measured on the device
    ``places`` names for the runtime, or skipped with its reason."""
    from scaler import PRESETS, build_model
    from scaler.profile import count_flops
    from workers.latency import measure_latency

    for name in args.presets:
        size = args.size or PRESETS[name].input_size
        for batch in args.batches:
            for runtime, precision in runtimes:
                row = {"kind": "latency", "network": name, "input_size": size, "batch": batch}
                row |= {"runtime": runtime, "precision": precision}
                where, reason = places[f"{runtime}-{precision}"]
                if where is None:
                    recorder.write({**row, "skipped": reason})
                    continue
                if not budget.allows(piece_seconds):
                    recorder.write({**row, "skipped": "time budget"})
                    continue
                if name not in models:
                    try:
                        model = build_on(device, lambda name=name: build_model(name))
                        models[name] = (model, count_flops(model, size)[0])
                    except Exception as error:
                        traceback.print_exc()
                        models[name] = describe(error)
                if isinstance(models[name], str):
                    recorder.write({**row, "error": f"build: {models[name]}"})
                    continue
                model, gflops = models[name]

                def measure(
                    model: Any = model, gflops: float = gflops, row: dict[str, Any] = row, where: str = where
                ) -> dict[str, Any]:
                    stats = measure_latency(
                        model,
                        where,
                        input_size=row["input_size"],
                        batch=row["batch"],
                        precision=row["precision"],
                        runs=args.runs,
                        rounds=args.rounds,
                        runtime=row["runtime"],
                    )
                    return {"device": where, "gflops": gflops, **stats_row(stats, gflops)}

                attempt(recorder, {**row, "runtime_note": reason} if reason else row, measure)
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


def latency_model_accuracy(
    args: argparse.Namespace, device: str, budget: Budget, recorder: Recorder, reserve: float
) -> dict[str, Any]:
    """The latency model calibrated on networks of ``--space`` and judged on held-out ones, timed
    as ``cuda-fp16`` (on a GPU) or ``cpu`` with one thread, within the budget less ``reserve``."""
    from latency_model import judged

    from scaler import Detector, compound_scale
    from search_spaces import load_job_spec
    from workers.latency import hardware_name
    from workers.latency_model import MIN_SAMPLES, LatencySample, agreement, graph_rules, local_target
    from workers.latency_model import space_networks as drawn

    cuda = device.startswith("cuda")
    target, setting = local_target("cuda-fp16" if cuda else "cpu", None if cuda else 1, args.rounds)
    target = dataclasses.replace(target, runs=args.runs)
    space = load_job_spec(args.space).space.architecture
    if args.space_size:
        space = space.model_copy(update={"input_size": (args.space_size,)})
    calibrate, hold_out = args.networks
    started = budget.elapsed()
    available = budget.left() - reserve
    calibration: list[tuple[Any, Any]] = []
    held_out: list[tuple[Any, Any, Any]] = []

    seconds_per_timing: list[float] = []  # a network's build and one timing, as measured so far

    def fits(times: int, share: float = 1.0) -> bool:
        """Whether one more network timed ``times`` times ends within ``share`` of the time, with
        the judgement's feature counts for every network still to come."""
        expected = times * (statistics.fmean(seconds_per_timing) if seconds_per_timing else 0.0)
        networks = len(calibration) + len(held_out) + 1
        spent = budget.elapsed() - started
        return spent + expected + networks * FIT_SECONDS_PER_NETWORK <= available * share

    def timed(label: str, point: Any, phase: str, times: int) -> tuple[Any, list[float]] | None:
        row = {
            "kind": "latency_model_network",
            "phase": phase,
            "label": label,
            "input_size": point.input_size,
        }
        began = time.perf_counter()
        try:
            network = build_on(target.device, lambda: Detector(compound_scale(point).to_network()))
            measured = [target.measure(network, point.input_size).estimate_ms for _ in range(times)]
            seconds_per_timing.append((time.perf_counter() - began) / times)
        except Exception as error:
            traceback.print_exc()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            recorder.write({**row, "error": describe(error)})
            return None
        recorder.write({**row, "measured_ms": measured})
        return network.to("meta"), measured  # features are counted on the meta device: no memory held

    for label, point in drawn(space, calibrate, 0):
        if not fits(1, CALIBRATION_SHARE if len(calibration) >= MIN_SAMPLES else 1.0):
            break
        result = timed(label, point, "calibration", 1)
        if result is not None:
            network, (measured,) = result
            calibration.append((network, LatencySample({"size": point.input_size}, measured, label)))
    for label, point in drawn(space, hold_out, 1):
        if len(calibration) < MIN_SAMPLES or not fits(2):
            break
        result = timed(label, point, "held_out", 2)
        if result is not None:
            network, (first, second) = result
            size = {"size": point.input_size}
            held_out.append((network, LatencySample(size, first, label), LatencySample(size, second, label)))
    row: dict[str, Any] = {"kind": "latency_model", "setting": setting, "space": args.space}
    row |= {"calibration_networks": len(calibration), "held_out_networks": len(held_out)}
    if len(calibration) < MIN_SAMPLES or len(held_out) < 2:
        return {
            **row,
            "skipped": "time budget",
            "needs": f"{MIN_SAMPLES} calibration and 2 held-out networks",
        }
    rules = graph_rules(target.runtime)
    variant = judged(setting, rules, calibration, held_out, target.batch)
    first = [sample.measured_ms for _, sample, _ in held_out]
    second = [again.measured_ms for _, _, again in held_out]
    return {
        **row,
        "device_name": hardware_name(target.device),
        "rounds": target.rounds,
        "runs": target.runs,
        "model": variant["model"],
        "model_vs_second_timing": variant["model_vs_second_timing"],
        "interval_coverage": variant["interval_coverage"],
        "repeat": agreement(second, first),
        "latency_range_ms": [min(first), max(first)],
        "weights": variant["weights"],
        "held_out": [
            {"label": sample.label, "measured_ms": sample.measured_ms, "predicted_ms": predicted}
            for (_, sample, _), predicted in zip(held_out, variant["predicted_ms"], strict=True)
        ],
        "minutes": (budget.elapsed() - started) / 60,
    }


def amp_training(args: argparse.Namespace, device: str, budget: Budget, recorder: Recorder) -> dict[str, Any]:
    """A few epochs of a small P5 network on the built-in dataset, as ``Trainer`` trains a trial
    (autocast and a GradScaler on CUDA); stops after the epoch that leaves under 15 s."""
    from recipe import hyperparameters_from, recipe_overrides, recipe_training

    from scaler import ScalingPoint, compound_scale, count_parameters
    from workers.data.open import open_dataset
    from workers.data.synth import SynthConfig, write_synth_dataset
    from workers.training.trainer import EpochResult, TrainConfig, Trainer

    recipe = recipe_training()
    train_images, val_images, size, classes = args.train_data
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        started = time.perf_counter()
        write_synth_dataset(folder, SynthConfig(train_images, val_images, size, classes, seed=0))
        dataset = open_dataset(Path(folder))
        data_seconds = time.perf_counter() - started
        point = ScalingPoint(
            stages=5,
            depth_multiple=0.33,
            width_multiple=0.25,
            input_size=size,
            num_classes=dataset.num_classes,
        )
        config = TrainConfig(
            network=compound_scale(point).to_network(),
            data=Path(folder),
            image_size=size,
            epochs=args.epochs,
            batch_size=args.train_batch or recipe["batch_size"],
            hyp=hyperparameters_from(recipe_overrides()),
            device=device,
            workers=args.train_workers,
            nominal_batch=recipe["nominal_batch"],
            optimizer=recipe["optimizer"],
        )
        trainer = Trainer(config, dataset=dataset)

        def record(result: EpochResult) -> None:
            recorder.write(
                {
                    "kind": "training_epoch",
                    "epoch": result.epoch + 1,
                    "seconds": result.seconds,
                    "images_per_second": result.images_per_second,
                    "loss": result.losses["total"],
                    "ap": result.metrics.ap,
                    "ap50": result.metrics.ap50,
                }
            )
            if not budget.allows(TRAINING_PIECE_SECONDS):
                raise TimeBudgetSpentError

        with contextlib.suppress(TimeBudgetSpentError):
            trainer.fit(on_epoch=record)
    history = trainer.history
    seconds = [result.seconds for result in history]
    return {
        "kind": "training",
        "device": device,
        "amp": bool(trainer.cuda and trainer.scaler.is_enabled()),
        "autocast_dtype": str(torch.get_autocast_dtype("cuda")) if trainer.cuda else None,
        "network": {"stages": 5, "depth_multiple": 0.33, "width_multiple": 0.25, "input_size": size},
        "parameters": count_parameters(trainer.model),
        "dataset": {"train": train_images, "val": val_images, "size": size, "classes": classes},
        "dataset_seconds": data_seconds,
        "batch_size": config.batch_size,
        "workers": config.workers,
        "epochs": len(history),
        "epochs_planned": args.epochs,
        "seconds_per_epoch": statistics.median(seconds[1:] or seconds) if seconds else None,
        "first_epoch_seconds": seconds[0] if seconds else None,
        "images_per_second": statistics.median(result.images_per_second for result in history)
        if history
        else None,
        "final_ap": history[-1].metrics.ap if history else None,
        "final_ap50": history[-1].metrics.ap50 if history else None,
        "best_ap50": max(result.metrics.ap50 for result in history) if history else None,
    }


def may_start(recorder: Recorder, kind: str, budget: Budget, seconds: float) -> bool:
    """Whether a piece needing ``seconds`` may start; writes its skipped row when it may not."""
    if budget.allows(seconds):
        return True
    recorder.write({"kind": kind, "skipped": "time budget"})
    return False


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=None, help="append the rows here as JSON lines")
    parser.add_argument("--budget-minutes", type=float, default=8.0)
    parser.add_argument("--smoke", action="store_true", help="every piece on the CPU at toy sizes")
    parser.add_argument("--presets", nargs="+", default=None, help=f"default: {' '.join(RELEASED)}")
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="default: 1 8")
    parser.add_argument("--size", type=int, default=None, help="input size (default: each preset's native)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=None, help="default: 3")
    parser.add_argument("--space", default=None, help="the latency model's space (default: p5-p7-large)")
    parser.add_argument("--space-size", type=int, default=None, help="the space's networks at this size only")
    parser.add_argument(
        "--networks",
        nargs=2,
        type=int,
        default=None,
        metavar=("CALIBRATE", "HELD_OUT"),
        help="default: 24 24",
    )
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: 8)")
    parser.add_argument(
        "--train-data",
        nargs=4,
        type=int,
        default=None,
        metavar=("TRAIN", "VAL", "SIZE", "CLASSES"),
        help="the synthetic dataset (default: 500 100 256 3)",
    )
    parser.add_argument("--train-batch", type=int, default=None, help="default: the short recipe's")
    parser.add_argument("--train-workers", type=int, default=None, help="data-loading workers (default: 4)")
    parser.add_argument(
        "--training-reserve", type=float, default=None, help="seconds kept for training (default: 75)"
    )
    args = parser.parse_args(argv)
    defaults: dict[str, Any] = {
        "presets": list(RELEASED),
        "batches": [1, 8],
        "rounds": 3,
        "space": "p5-p7-large",
        "networks": [24, 24],
        "epochs": 8,
        "train_data": [500, 100, 256, 3],
        "train_workers": 4,
        "training_reserve": 75.0,
    }
    if args.smoke:
        defaults |= {
            "presets": ["yolov4-tiny", "yolov4-csp"],
            "batches": [1, 2],
            "rounds": 1,
            "space": "tiny-cpu",
            "networks": [10, 4],
            "epochs": 1,
            "train_data": [8, 4, 64, 1],
            "train_workers": 0,
            "training_reserve": 10.0,
        }
        args.size = args.size or 32
        args.space_size = args.space_size or 64
        args.train_batch = args.train_batch or 4
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    budget = Budget(args.budget_minutes)
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:  # run from a checkout that is not installed (the GPU machine)
        sys.path.insert(1, str(root))
    cuda = torch.cuda.is_available() and not args.smoke
    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.cuda.init()
    recorder = Recorder(args.out, budget)
    machine = machine_row(args, device)
    machine["fused_mish"] = fused_mish_status(device)
    recorder.write(machine)

    places = {"torch-fp32": (device, "eager torch, the deployment form")}
    places["torch-fp16"] = (device, "eager torch, the deployment form") if cuda else (None, "no CUDA")
    places["onnxruntime-fp32"] = onnxruntime_device(cuda, args.smoke)
    places["tensorrt-fp16"] = tensorrt_device(cuda)
    recorder.write(
        {"kind": "runtimes", **{key: {"device": where, "why": why} for key, (where, why) in places.items()}}
    )
    models: dict[str, Any] = {}
    released_latency(args, device, TORCH_RUNTIMES, places, budget, recorder, models, TORCH_PIECE_SECONDS)
    released_latency(args, device, OTHER_RUNTIMES, places, budget, recorder, models, OTHER_PIECE_SECONDS)
    models.clear()
    if cuda:
        torch.cuda.empty_cache()
    if may_start(recorder, "latency_model", budget, MODEL_PIECE_SECONDS + args.training_reserve):
        attempt(
            recorder,
            {"kind": "latency_model"},
            lambda: latency_model_accuracy(args, device, budget, recorder, args.training_reserve),
        )
    if may_start(recorder, "training", budget, TRAINING_PIECE_SECONDS):
        attempt(recorder, {"kind": "training"}, lambda: amp_training(args, device, budget, recorder))
    recorder.write(
        {
            "kind": "imports",
            "forbidden_loaded": [name for name in FORBIDDEN if name in sys.modules],
            "optional_loaded": [name for name in OPTIONAL if name in sys.modules],
        }
    )
    recorder.write({"kind": "done", "minutes": budget.elapsed() / 60})


if __name__ == "__main__":
    main()
