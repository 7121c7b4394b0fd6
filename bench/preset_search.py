"""Presets head to head: each named preset searched as shipped on the demo's built-in dataset.

    python bench/preset_search.py                  # tiny-cpu vs tiny-cpu-inherit, seeds 0 1
    python bench/preset_search.py --presets tiny-cpu tiny-cpu-inherit --seeds 0 1 2 --out FILE.jsonl

Runs every preset with its own searcher, scheduler and budget (only the seed and the hypervolume's
reference point change: a fixed (AP 0, ``--reference-ms``) so that volumes compare across runs) on
the dataset ``scaler demo`` writes (200 + 50 images of 256 px, three classes). Prints and appends
per run: trials, trial-epochs spent, final hypervolume, best AP, the front and the wall minutes;
then the mean over seeds per preset. Rows carry every trial as ``bench/search_efficiency.py``'s do,
so that ``bench/search_rescore.py --classes 3`` re-times them on one machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from search_efficiency import append, epochs_curve, trials_run

from search_spaces import load_job_spec
from workers.data.synth import SynthConfig, write_synth_dataset
from workers.search.run import ensure_ray, run_search


def run_preset(preset: str, dataset: Path, seed: int, reference_ms: float, work: Path) -> dict:
    spec = load_job_spec(preset, dataset=str(dataset))
    objectives = spec.objectives.model_copy(update={"reference_latency_ms": reference_ms})
    spec = spec.with_changes(seed=seed, objectives=objectives.model_dump())
    out = work / f"{preset}-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    result = run_search(spec, out, export_front=False)
    curve = epochs_curve(result)
    measured = [t for t in result.trials if t.status in ("completed", "stopped")]
    return {
        "method": preset,  # the field bench/search_summary.py and bench/search_rescore.py read
        "preset": preset,
        "seed": seed,
        "trials": len(result.trials),
        "trial_epochs": curve[-1][0] if curve else 0,
        "hypervolume": result.hypervolume,
        "best_ap": max((t.ap for t in measured), default=0.0),
        "front": [
            {"ap": t.ap, "latency_ms": t.latency_ms, "epochs": t.epochs, "inherited_from": t.inherited_from}
            for t in result.trials
            if t.trial_id in result.front
        ],
        "minutes": (time.perf_counter() - started) / 60,
        "reference_ms": reference_ms,
        "curve": curve,
        "trials_run": trials_run(result),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=["tiny-cpu", "tiny-cpu-inherit"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--reference-ms", type=float, default=60.0)
    parser.add_argument("--data", type=Path, default=Path("runs/bench-presets-synth"))
    parser.add_argument("--work", type=Path, default=Path("runs/bench-presets"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / "dataset.yaml").is_file():
        write_synth_dataset(args.data, SynthConfig(images=200, val_images=50, size=256, classes=3, seed=0))
    ensure_ray(num_cpus=2)
    rows = []
    for seed in args.seeds:
        for preset in args.presets:
            row = run_preset(preset, args.data.resolve(), seed, args.reference_ms, args.work)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("curve", "trials_run")}), flush=True)
            append(args.out, row)
    for preset in args.presets:
        mine = [row for row in rows if row["preset"] == preset]
        summary = {
            "preset": preset,
            "seeds": len(mine),
            "mean_hypervolume": statistics.fmean(row["hypervolume"] for row in mine),
            "mean_best_ap": statistics.fmean(row["best_ap"] for row in mine),
            "mean_trial_epochs": statistics.fmean(row["trial_epochs"] for row in mine),
            "mean_minutes": statistics.fmean(row["minutes"] for row in mine),
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
