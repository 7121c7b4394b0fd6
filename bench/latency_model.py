"""How well does a device's latency model predict networks it has not seen, beside how well a
measurement repeats? (issue 25: ≥ 95 % of predictions within ±10 % of the measured median and a
rank correlation ≥ 0.95.)

The model is calibrated on ``--calibrate`` networks drawn from the spaces (seed 0) and judged on
``--held-out`` other networks of the same spaces (seed 1), each held-out network timed twice,
interleaved, so that the measurement's own repeatability (the second timing predicting the first)
is reported beside the model's: a prediction cannot beat the noise of what it is compared to.
Every figure is the estimate a search optimises (the lowest of the rounds' medians). The same
timings are fitted and judged twice, with the features counted by the runtime's graph rules
(``workers.latency_model.graph_rules``) and by the eager ones, so what the rules buy is measured
side by side. Every timed network is written out (``calibration``, ``held_out``). Run alone, with
the Mish kernel a search's trials use (leave ``SCALER_FUSED_MISH`` unset: ``=0`` times the eager
form, seven passes, which a search never runs).

    python bench/latency_model.py --device cpu --threads 1 --out bench/results/latency-model-cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from scaler import Detector, compound_scale
from scaler.latency_features import EAGER, FEATURES, GraphRules, latency_features
from search_spaces import load_job_spec
from workers.latency_model import (
    LatencySample,
    agreement,
    fit,
    graph_rules,
    local_target,
    space_networks,
    timed_samples,
)


def judged(
    setting: str,
    rules: GraphRules,
    calibration: list[tuple[object, LatencySample]],
    held_out: list[tuple[object, LatencySample, LatencySample]],
    batch: int,
) -> dict:
    """The model fitted with features counted by ``rules`` on the calibration timings, judged on
    the held-out ones (and against their second timing)."""

    def features(network: object, size: int) -> dict[str, float]:
        return latency_features(network, size, batch, rules)

    samples = [
        LatencySample(features(network, sample.features["size"]), sample.measured_ms, sample.label)
        for network, sample in calibration
    ]
    model = fit(setting, samples, rules)
    predicted = [model.predict(features(network, first.features["size"])) for network, first, _ in held_out]
    first = [sample for _, sample, _ in held_out]
    second = [again for _, _, again in held_out]
    return {
        "graph": rules.name,
        "model": agreement([p.predicted_ms for p in predicted], [s.measured_ms for s in first]),
        "model_vs_second_timing": agreement(
            [p.predicted_ms for p in predicted], [s.measured_ms for s in second]
        ),
        "interval_coverage": sum(
            guess.interval_ms[0] <= sample.measured_ms <= guess.interval_ms[1]
            for guess, sample in zip(predicted, first, strict=True)
        )
        / len(first),
        "weights": dict(zip([*FEATURES, "constant"], model.weights, strict=True)),
        "predicted_ms": [guess.predicted_ms for guess in predicted],
    }


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
    batch = target.batch
    calibration = []  # (network, its timing: features hold only its size until judged)
    for label, point in drawn(args.calibrate, 0):
        network = Detector(compound_scale(point).to_network()).eval()
        (timed,) = timed_samples([(label, point)], target.measure, batch)
        calibration.append((network, LatencySample({"size": point.input_size}, timed.measured_ms, label)))
    held_out = []
    for label, point in drawn(args.held_out, 1):
        network = Detector(compound_scale(point).to_network()).eval()
        size = {"size": point.input_size}
        first = LatencySample(size, target.measure(network, point.input_size).estimate_ms, label)
        second = LatencySample(size, target.measure(network, point.input_size).estimate_ms, label)
        held_out.append((network, first, second))
    rules = graph_rules(target.runtime)
    variants = [judged(setting, rules, calibration, held_out, batch)]
    if rules != EAGER:
        variants.append(judged(setting, EAGER, calibration, held_out, batch))
    first = [sample for _, sample, _ in held_out]
    second = [again for _, _, again in held_out]
    row = {
        "setting": setting,
        "machine": platform.processor() or platform.machine(),
        "spaces": args.spaces,
        "rounds": args.rounds,
        "calibration_networks": len(calibration),
        "held_out_networks": len(held_out),
        "variants": [
            {key: value for key, value in variant.items() if key != "predicted_ms"} for variant in variants
        ],
        "repeat": agreement([s.measured_ms for s in second], [s.measured_ms for s in first]),
        "latency_range_ms": [min(s.measured_ms for s in first), max(s.measured_ms for s in first)],
        "minutes": (time.perf_counter() - started) / 60,
        "calibration": [{"label": s.label, "measured_ms": s.measured_ms} for _, s in calibration],
        "held_out": [
            {
                "label": sample.label,
                "measured_ms": sample.measured_ms,
                "again_ms": again.measured_ms,
                "predicted_ms": {variant["graph"]: variant["predicted_ms"][index] for variant in variants},
            }
            for index, (_, sample, again) in enumerate(held_out)
        ],
    }
    summary = {key: value for key, value in row.items() if key not in ("held_out", "calibration")}
    print(json.dumps(summary, indent=1), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as handle:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
