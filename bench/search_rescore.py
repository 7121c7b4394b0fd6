"""Re-time every network of recorded search runs on one machine and recompute the runs' volumes.

    SCALER_FUSED_MISH=0 python bench/search_rescore.py RUNS.jsonl [...] --out RESCORED.jsonl \
        --timings TIMINGS.json
    python bench/search_summary.py RESCORED.jsonl

A search run's hypervolume rests on the latencies its trials measured: on the machine that ran it,
at that moment. Two runs of one seed time the same network up to 1.6× apart on one VM, and this
project's 2-vCPU VMs differ by 2–3× from session to session (docs/benchmarks.md), so runs from
different sessions, or even different methods of one session, do not compare by their own figures.
This keeps what a run found and spent (each trial's AP, epochs and order) and replaces each
trial's latency by one figure per distinct network, measured here with the search's settings (the
untrained network in deployment form, batch 1, ``--threads``, the lowest of three round medians),
the lowest over ``--repeats`` passes and, with ``--timings``, over the passes of earlier calls too
(``--repeats 0`` rescores from those alone, e.g. at another reference). A timings file holds one
machine's figures: on another machine (another session's VM), start a new one and time every run.
Every run is then scored against the same (AP 0, ``--reference-ms``) reference. Writes the rows
again, curve, volume and latencies rescored, with ``latency_source`` naming the machine and
passes, for ``bench/search_summary.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scaler import Detector
from search_spaces import Objectives, scaling_values
from workers.latency import measure_latency
from workers.results import MEASURED_STATUSES
from workers.search.outcome import SearchTrial, summarise
from workers.trial import TrialConfig, build_network, scaling_point_of


def network_key(point: dict[str, Any]) -> str:
    """What fixes a network's latency: its scaling values (input size included), not its hyp."""
    return json.dumps(scaling_values(point), sort_keys=True)


def time_networks(keys: list[str], classes: int, threads: int, repeats: int) -> tuple[dict[str, float], str]:
    """The latency of each network (ms), the lowest over ``repeats`` passes over all of them, and
    the name of the CPU that timed them."""
    if repeats < 1:
        return {}, ""
    models = []
    for key in keys:
        values = json.loads(key)
        size = int(values.pop("input_size"))
        config = TrialConfig(data="unused", point=scaling_point_of(values, size), image_size=size)
        models.append((key, Detector(build_network(config, classes)), size))
    timed: dict[str, float] = {}
    machine = ""
    for repeat in range(repeats):
        for index, (key, model, size) in enumerate(models):
            stats = measure_latency(model, "cpu", input_size=size, threads=threads)
            timed[key] = min(stats.estimate_ms, timed.get(key, stats.estimate_ms))
            machine = stats.device_name
            print(
                f"pass {repeat + 1}/{repeats}, network {index + 1}/{len(models)}: {stats.estimate_ms:.2f} ms",
                flush=True,
            )
    return timed, machine


def rescore(row: dict, latency: dict[str, float], reference_ms: float) -> dict:
    """``row`` with every trial's latency taken from ``latency`` and its curve recomputed as the
    search computes it (``workers.search.outcome.summarise``: one entry per finished trial)."""
    trials = [
        {
            **trial,
            "latency_ms": latency[network_key(trial["point"])]
            if trial["status"] in MEASURED_STATUSES
            else None,
        }
        for trial in row["trials_run"]
    ]
    searched = [
        SearchTrial(
            trial_id=str(index),
            status=trial["status"],
            point=trial["point"],
            epochs=trial["epochs"],
            ap=trial["ap"],
            latency_ms=trial["latency_ms"],
            finished_at=float(index),  # rows hold the trials in finishing order
        )
        for index, trial in enumerate(trials)
    ]
    _, _, history, _ = summarise(searched, Objectives(accuracy="ap", reference_latency_ms=reference_ms))
    curve, spent = [], 0
    for trial, volume in zip(trials, history, strict=True):
        spent += trial["epochs"]
        curve.append([spent, volume])
    return {
        **row,
        "trials_run": trials,
        "curve": curve,
        "hypervolume": curve[-1][1] if curve else 0.0,
        "reference_ms": reference_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", help="rows of bench/search_efficiency.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--methods", nargs="+", default=None, help="only these methods' rows")
    parser.add_argument("--reference-ms", type=float, default=40.0)
    parser.add_argument("--classes", type=int, default=1, help="classes of the benchmark's dataset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="passes over the networks; 0: --timings only")
    parser.add_argument(
        "--timings",
        type=Path,
        default=None,
        help="JSON of earlier passes (network → ms): merged by the lowest figure, then written back",
    )
    args = parser.parse_args()
    runs: dict[tuple[str, int], dict] = {}
    for path in args.runs:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "trials_run" in row and (args.methods is None or row["method"] in args.methods):
                runs[(row["method"], row["seed"])] = row  # a later row of a run replaces an earlier one
    trials = [trial for row in runs.values() for trial in row["trials_run"]]
    keys = sorted({network_key(trial["point"]) for trial in trials if trial["status"] in MEASURED_STATUSES})
    earlier = json.loads(args.timings.read_text()) if args.timings and args.timings.is_file() else {}
    source = earlier.pop("__source__", {"machine": "", "passes": 0})
    print(f"{len(runs)} runs, {len(keys)} distinct networks, {len(earlier)} timed before", flush=True)
    latency, machine = time_networks(keys, args.classes, args.threads, args.repeats)
    for key, figure in earlier.items():
        latency[key] = min(figure, latency.get(key, figure))
    missing = [key for key in keys if key not in latency]
    if missing:
        parser.error(f"--timings: {len(missing)} networks never timed, e.g. {missing[0]}; pass --repeats 1")
    source = {
        "machine": machine or source["machine"],
        "threads": args.threads,
        "passes": source["passes"] + args.repeats,
    }
    if args.timings:
        args.timings.write_text(json.dumps({"__source__": source, **latency}, indent=1, sort_keys=True))
    with args.out.open("w") as stream:
        for row in runs.values():
            rescored = rescore(row, latency, args.reference_ms)
            stream.write(json.dumps({**rescored, "latency_source": source}) + "\n")


if __name__ == "__main__":
    main()
