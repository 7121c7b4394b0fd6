"""How well does a device's latency model predict networks it has not seen, beside how well a
measurement repeats? (issue 25: ≥ 95 % of predictions within ±10 % of the measured median and a
rank correlation ≥ 0.95.)

The model is calibrated on ``--calibrate`` networks drawn from the spaces (seed 0) and judged on
``--held-out`` other networks of the same spaces (seed 1), each held-out network timed twice,
interleaved, so that the measurement's own repeatability (the second timing predicting the first)
is reported beside the model's: a prediction cannot beat the noise of what it is compared to.
Every figure is the estimate a search optimises (the lowest of the rounds' medians). Run alone.

    SCALER_FUSED_MISH=0 python bench/latency_model.py --device cpu --threads 1 \\
        --out bench/results/latency-model-cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from scaler import Detector, compound_scale
from scaler.latency_features import FEATURES, latency_features
from search_spaces import load_job_spec
from workers.latency_model import LatencySample, agreement, fit, local_target, space_networks, timed_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--spaces", nargs="+", default=["tiny-cpu"])
    parser.add_argument("--calibrate", type=int, default=40)
    parser.add_argument("--held-out", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    target, setting = local_target(args.device, args.threads, args.rounds)
    spaces = [load_job_spec(name).space.architecture for name in args.spaces]

    def drawn(count: int, seed: int) -> list:
        share = -(-count // len(spaces))
        networks = []
        for index, space in enumerate(spaces):
            networks += space_networks(space, share, seed + 10 * index)
        return networks

    started = time.perf_counter()
    calibration = timed_samples(drawn(args.calibrate, 0), target.measure, target.batch)
    model = fit(setting, calibration)
    first, second = [], []
    for label, point in drawn(args.held_out, 1):
        network = Detector(compound_scale(point).to_network()).eval()
        features = latency_features(network, point.input_size, target.batch)
        first.append(LatencySample(features, target.measure(network, point.input_size).estimate_ms, label))
        second.append(LatencySample(features, target.measure(network, point.input_size).estimate_ms, label))
    predicted = [model.predict(sample.features) for sample in first]
    row = {
        "setting": setting,
        "machine": platform.processor() or platform.machine(),
        "spaces": args.spaces,
        "calibration_networks": len(calibration),
        "held_out_networks": len(first),
        "model": agreement([p.predicted_ms for p in predicted], [s.measured_ms for s in first]),
        "model_vs_second_timing": agreement(
            [p.predicted_ms for p in predicted], [s.measured_ms for s in second]
        ),
        "repeat": agreement([s.measured_ms for s in second], [s.measured_ms for s in first]),
        "interval_coverage": sum(
            guess.interval_ms[0] <= sample.measured_ms <= guess.interval_ms[1]
            for guess, sample in zip(predicted, first, strict=True)
        )
        / len(first),
        "latency_range_ms": [min(s.measured_ms for s in first), max(s.measured_ms for s in first)],
        "weights": dict(zip([*FEATURES, "constant"], model.weights, strict=True)),
        "minutes": (time.perf_counter() - started) / 60,
        "held_out": [
            {
                "label": sample.label,
                "measured_ms": sample.measured_ms,
                "again_ms": again.measured_ms,
                "predicted_ms": guess.predicted_ms,
            }
            for sample, again, guess in zip(first, second, predicted, strict=True)
        ],
    }
    print(json.dumps({key: value for key, value in row.items() if key != "held_out"}, indent=1), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as handle:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
