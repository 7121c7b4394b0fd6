"""What does screening sampled points with the device's latency model cost, and what does it get
wrong? (issue 25: "let a searcher screen many sampled points and train only the promising ones".)

Calibrates a model on ``--calibrate`` networks of the space (seed 0), then screens ``--points``
points drawn from the job's whole space (architecture and hyperparameters, seed 2) against a
``max_latency_ms`` set at the model's median prediction of them (so about half break it), timing
each screen (the first of a network, and again for a point of the same network with other
hyperparameters). Then ``--check`` of the points are timed for real: how many the screen refused
that keep the limit (wrongly refused: a trial lost) and how many it passed that break it (passed:
the trial measures it and marks it infeasible, as without a model). Run alone.

    python bench/screening.py --out bench/results/screening-cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from scaler import Detector
from search_spaces import JobSpec, Point, load_job_spec, parse_job_spec
from search_spaces.mutation import sample_point
from workers.latency_model import fit, local_target, space_networks, timed_samples
from workers.search.points import trial_config
from workers.search.predictor import network_features
from workers.search.screening import Screen
from workers.trial import build_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="tiny-cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calibrate", type=int, default=30)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--check", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    target, setting = local_target("cpu", args.threads, rounds=3)
    spec = load_job_spec(args.space)
    started = time.perf_counter()
    model = fit(
        setting, timed_samples(space_networks(spec.space.architecture, args.calibrate, 0), target.measure)
    )
    calibration_minutes = (time.perf_counter() - started) / 60
    rng = np.random.default_rng(2)
    points = [sample_point(spec.space.parameters(), rng) for _ in range(args.points)]
    limit = statistics.median(
        model.predict(_features(spec, point, target.batch)).predicted_ms for point in points
    )
    limited = parse_job_spec(
        {
            **spec.model_dump(mode="json"),
            "objectives": {
                **spec.model_dump(mode="json")["objectives"],
                "constraints": {"max_latency_ms": round(limit, 2)},
            },
        }
    )
    screen = Screen(limited, model.to_dict(), target, 1)
    first, again, verdicts = [], [], []
    for point in points:
        clock = time.perf_counter()
        verdict = screen(point)
        first.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        screen(point)  # the same network: its prediction is kept
        again.append(time.perf_counter() - clock)
        verdicts.append(verdict)
    checked = []
    for point, verdict in list(zip(points, verdicts, strict=True))[: args.check]:
        config = trial_config(limited, point)
        measured = target.measure(Detector(build_network(config, 1)).eval(), config.image_size).estimate_ms
        checked.append({"refused": verdict is not None, "measured_ms": measured, "over": measured > limit})
    row = {
        "setting": setting,
        "machine": platform.processor() or platform.machine(),
        "space": args.space,
        "limit_ms": limit,
        "calibration_networks": args.calibrate,
        "calibration_minutes": calibration_minutes,
        "points": len(points),
        "refused": sum(verdict is not None for verdict in verdicts),
        "screen_ms_median": 1000 * statistics.median(first),
        "screen_ms_p95": 1000 * float(np.percentile(first, 95)),
        "screen_again_ms_median": 1000 * statistics.median(again),
        "checked": len(checked),
        "wrongly_refused": sum(row["refused"] and not row["over"] for row in checked),
        "passed_over_limit": sum(not row["refused"] and row["over"] for row in checked),
        "refused_over_limit": sum(row["refused"] and row["over"] for row in checked),
        "over_limit": sum(row["over"] for row in checked),
        "checks": checked,
    }
    print(json.dumps({key: value for key, value in row.items() if key != "checks"}, indent=1), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as handle:
            handle.write(json.dumps(row) + "\n")


def _features(spec: JobSpec, point: Point, batch: int) -> dict[str, float]:
    config = trial_config(spec, point)
    return network_features(build_network(config, 1), config.image_size, batch)


if __name__ == "__main__":
    main()
