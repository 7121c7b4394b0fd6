"""CPU latency of every preset: plain eval model vs the deployment form.

For each preset at a small size and at its native size: batch-1 latency (median and p95 of
``--runs`` timed runs after ``--warmup`` runs) of
  * ``eval``     the model as trained (BN separate, native Mish, NCHW),
  * ``deploy``   scaler.deploy: BN folded, fast Mish, channels_last,
  * ``compiled`` scaler.deploy(compile=True): the deploy form through torch.compile with inductor's
                 weight freezing (skip with --no-compile),
  * ``onnxrt``   the fused ONNX export on ONNX Runtime (CPU), when --onnxruntime is given,
  * ``fused`` / ``fused+cl``  BN folding alone / with channels_last, when --ablation is given,
and, in the same run, the throughput of one large 3×3 convolution, so that each network's
achieved GFLOP/s can be read against what this CPU can do.

With ``--int8`` it times ONNX Runtime (CPU) alone, as a target device's node does
(``workers.runtimes``): ``onnxrt`` the fp32 graph against ``onnxrt-int8`` the same graph
statically quantised (QDQ, per-channel weights: the ``cpu-onnxruntime-int8`` device's), and with
``--int8-formats`` also ``int8-qdq-tensor`` (per-tensor weights), ``int8-qop`` and
``int8-qop-tensor`` (QOperator format). The variants' rounds of ``--runs`` are interleaved and each
keeps its lowest round median, as ``workers.latency`` does, so a busy neighbour slows all alike.

    python bench/model_latency.py                      # every preset, small + native size
    python bench/model_latency.py --presets yolov4-p5 --sizes small --runs 20 --onnxruntime
    OMP_NUM_THREADS=1 python bench/model_latency.py --int8 --int8-formats --threads 1 \\
        --presets yolov4-tiny yolov4-csp --sizes small
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from scaler import PRESETS, build_model, count_flops, deploy
from scaler.onnx_export import export_onnx
from workers import latency
from workers.latency import summarise_rounds
from workers.runtimes import onnxruntime_run, quantise_int8

# --int8's variants: (quantisation format, per-channel weights); the first is the runtime's own
INT8_VARIANTS = {"onnxrt-int8": ("QDQ", True)}
INT8_FORMATS = {
    "int8-qdq-tensor": ("QDQ", False),
    "int8-qop": ("QOperator", True),
    "int8-qop-tensor": ("QOperator", False),
}

SMALL_SIZES = {
    "yolov4-tiny": 320,
    "yolov4-csp": 320,
    "yolov4-p5": 384,
    "yolov4-p6": 384,
    "yolov4-p7": 512,
    "yolov4": 320,
}


def time_runs(run: Callable[[], object], runs: int, warmup: int) -> list[float]:
    """Milliseconds per run, warmed up and timed as ``workers.latency.measure_latency`` does (its
    own warm-up and timer: on CUDA, events around a synchronised run)."""
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    latency.warm_up(run, warmup, cuda)
    return latency.time_runs(run, runs, cuda)


def summary(timings: list[float]) -> dict[str, float]:
    """Median and p95 of one round of timings, as ``workers.latency`` summarises them."""
    stats = summarise_rounds([timings])
    return {"median_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"], "runs": len(timings)}


def conv_throughput(runs: int, device: torch.device, dtype: torch.dtype) -> float:
    """GFLOP/s of a 3×3, 256→256 convolution on a 256×64×64 input (×8 batch on a GPU), channels_last."""
    batch = 8 if device.type == "cuda" else 1
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).eval()
    conv = conv.to(device, dtype, memory_format=torch.channels_last)
    image = torch.randn(batch, 256, 64, 64, device=device, dtype=dtype).contiguous(
        memory_format=torch.channels_last
    )
    flops = batch * 2 * 256 * 256 * 9 * 64 * 64
    with torch.inference_mode():
        timings = time_runs(lambda: conv(image), runs, 5)
    return flops / (statistics.median(timings) / 1000) / 1e9


def measure(name: str, size: int, args: argparse.Namespace) -> list[dict[str, object]]:
    device = torch.device(args.device)
    dtype = torch.float16 if args.half else torch.float32
    model = build_model(name).eval()
    gflops, _ = count_flops(model, size, batch=args.batch)
    reference = model  # deploy forms are derived in fp32 on the CPU, then moved

    def on_device(module: torch.nn.Module) -> torch.nn.Module:
        return module.to(device, dtype)

    model = on_device(copy.deepcopy(reference))
    image = torch.rand(args.batch, 3, size, size, device=device, dtype=dtype)
    rows = []

    def record(variant: str, timings: list[float]) -> None:
        stats = summary(timings)
        rows.append(
            {
                "preset": name,
                "size": size,
                "variant": variant,
                "batch": args.batch,
                "device": args.device,
                "precision": "fp16" if args.half else "fp32",
                "gflops": gflops,
                **stats,
                "achieved_gflops_per_s": gflops / (stats["median_ms"] / 1000),
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    image_last = image.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        record("eval", time_runs(lambda: model(image), args.runs, args.warmup))
        if args.ablation:  # what each step of the deploy form buys
            fused = on_device(deploy(reference, channels_last=False, fast_activations=False))
            record("fused", time_runs(lambda: fused(image), args.runs, args.warmup))
            fused_last = on_device(deploy(reference, fast_activations=False))
            record("fused+cl", time_runs(lambda: fused_last(image_last), args.runs, args.warmup))
        deployed = on_device(deploy(reference))
        record("deploy", time_runs(lambda: deployed(image_last), args.runs, args.warmup))
    if not args.no_compile:
        compiled = deploy(on_device(copy.deepcopy(reference)), compile=True)
        with torch.inference_mode():
            start = time.perf_counter()
            compiled(image_last)  # compilation happens here, outside the timings
            print(f"# compiled {name} at {size} in {time.perf_counter() - start:.0f} s", flush=True)
            record("compiled", time_runs(lambda: compiled(image_last), args.runs, args.warmup))
    if args.onnxruntime and device.type == "cpu" and not args.half:
        import onnxruntime

        with tempfile.TemporaryDirectory() as folder:
            path = export_onnx(reference, Path(folder) / "model.onnx", size, batch=args.batch)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feed = {"images": image.numpy()}
            record("onnxrt", time_runs(lambda: session.run(None, feed), args.runs, args.warmup))
    return rows


def measure_int8(name: str, size: int, args: argparse.Namespace) -> list[dict[str, object]]:
    """ONNX Runtime on this CPU: the fp32 graph against its int8 quantisations, rounds interleaved."""
    model = build_model(name).eval()
    gflops, _ = count_flops(model, size, batch=args.batch)
    image = torch.rand(args.batch, 3, size, size)
    variants = {**INT8_VARIANTS, **(INT8_FORMATS if args.int8_formats else {})}
    with tempfile.TemporaryDirectory() as folder:
        fp32 = export_onnx(model, Path(folder) / "model.onnx", size, batch=args.batch)
        paths = {"onnxrt": fp32}
        for variant, (quant_format, per_channel) in variants.items():
            start = time.perf_counter()
            paths[variant] = quantise_int8(
                fp32,
                Path(folder) / f"{variant}.onnx",
                tuple(image.shape),
                quant_format=quant_format,
                per_channel=per_channel,
            )
            print(
                f"# quantised {name} at {size} ({variant}) in {time.perf_counter() - start:.0f} s", flush=True
            )
        runs = {variant: onnxruntime_run(path, image, args.threads) for variant, path in paths.items()}
        for run in runs.values():
            latency.warm_up(run, args.warmup, cuda=False)
        per_round: dict[str, list[list[float]]] = {variant: [] for variant in runs}
        for _ in range(args.rounds):
            for variant, run in runs.items():
                per_round[variant].append(latency.time_runs(run, args.runs, cuda=False))
    rows = []
    for variant, timings in per_round.items():
        stats = summarise_rounds(timings)
        rows.append(
            {
                "preset": name,
                "size": size,
                "variant": variant,
                "batch": args.batch,
                "device": "cpu",
                "precision": "fp32" if variant == "onnxrt" else "int8",
                "threads": args.threads,
                "gflops": gflops,
                "median_ms": stats["estimate_ms"],  # the lowest round median, as a search's figure
                "p95_ms": stats["p95_ms"],
                "spread": stats["spread"],
                "rounds": args.rounds,
                "runs": args.runs,
                "achieved_gflops_per_s": gflops / (stats["estimate_ms"] / 1000),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument(
        "--sizes", nargs="+", default=["small", "native"], help="small, native or a size in pixels"
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--half", action="store_true", help="fp16 (CUDA)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--onnxruntime", action="store_true")
    parser.add_argument("--int8", action="store_true", help="ONNX Runtime fp32 vs int8 only (CPU)")
    parser.add_argument("--int8-formats", action="store_true", help="with --int8: also QOperator, per-tensor")
    parser.add_argument("--rounds", type=int, default=3, help="with --int8: interleaved rounds of --runs")
    parser.add_argument(
        "--ablation", action="store_true", help="also time fused-only and fused+channels_last"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON lines here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.cuda.init()
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "conv3x3_gflops_per_s": conv_throughput(
            args.runs, torch.device(args.device), torch.float16 if args.half else torch.float32
        ),
    }
    print(json.dumps(machine), flush=True)
    rows = []
    for name in args.presets:
        for which in args.sizes:
            size = {"small": SMALL_SIZES[name], "native": PRESETS[name].input_size}.get(which) or int(which)
            rows += measure_int8(name, size, args) if args.int8 else measure(name, size, args)
    print()
    print(
        f"{'preset':<12} {'size':>5} {'variant':<15} {'GFLOPs':>8} {'median ms':>10} {'p95 ms':>9} "
        f"{'GFLOP/s':>8} {'vs ' + ('onnxrt' if args.int8 else 'eval'):>10}"
    )
    for row in rows:
        base = next(
            r
            for r in rows
            if r["preset"] == row["preset"]
            and r["size"] == row["size"]
            and r["variant"] == ("onnxrt" if args.int8 else "eval")
        )
        print(
            f"{row['preset']:<12} {row['size']:>5} {row['variant']:<15} {row['gflops']:>8.1f} "
            f"{row['median_ms']:>10.1f} {row['p95_ms']:>9.1f} {row['achieved_gflops_per_s']:>8.1f} "
            f"{row['median_ms'] / base['median_ms']:>10.2f}"
        )
    print(f"one 3x3 conv: {machine['conv3x3_gflops_per_s']:.1f} GFLOP/s with {machine['threads']} threads")
    if args.out:
        args.out.write_text("\n".join(json.dumps(row) for row in [machine, *rows]) + "\n")


if __name__ == "__main__":
    main()
