"""Summarise search-efficiency rows: per seed and averaged over seeds, as markdown tables.

    python bench/search_summary.py bench/results/search-efficiency-cpu-1class-xeon-population-2026-11-22.jsonl

Reads the rows ``bench/search_efficiency.py`` writes (several files may be given; a later row for the
same method and seed replaces an earlier one) and prints:

- per seed and method: hypervolume after half the budget and at the end, trials run (full), and the
  trial-epochs spent before the volume first reached plain NSGA-II's final volume of that seed;
- averaged over the seeds every method has: the mean volume at each quarter of the budget and the
  trial-epochs at which the mean curve first reaches plain NSGA-II's mean final volume — the
  benchmark's target read on the mean curve, which a single lucky trial moves less than a seed;
- the latency noise seen by the search: the same point timed in two runs of one seed (the searchers
  share their first points), as the ratio of the two figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
from itertools import combinations
from pathlib import Path

BASELINE = "nsga2"


def load(paths: list[Path]) -> dict[tuple[str, int], dict]:
    runs: dict[tuple[str, int], dict] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "curve" in row:
                runs[(row["method"], row["seed"])] = row
    return runs


def volume_at(curve: list[list[float]], spent: float) -> float:
    """The hypervolume after ``spent`` trial-epochs: that of the last trial finished by then."""
    volume = 0.0
    for epochs, value in curve:
        if epochs > spent:
            break
        volume = value
    return volume


def first_reaching(points: list[tuple[float, float]], target: float) -> float | None:
    return next((spent for spent, volume in points if volume >= target - 1e-12), None)


def budget_of(runs: dict[tuple[str, int], dict]) -> int:
    return max(int(row["curve"][-1][0]) for row in runs.values() if row["curve"])


def per_seed_table(runs: dict[tuple[str, int], dict], budget: int) -> list[str]:
    lines = [
        "| seed | method | trials (full) | HV at half | final HV | trial-epochs to NSGA-II's final |",
        "|---|---|---|---|---|---|",
    ]
    for method, seed in sorted(runs, key=lambda key: (key[1], key[0])):
        row = runs[(method, seed)]
        baseline = runs.get((BASELINE, seed))
        reached = "n/a"
        if baseline and baseline["curve"]:
            spent = first_reaching([tuple(point) for point in row["curve"]], baseline["curve"][-1][1])
            reached = "—" if spent is None else str(int(spent))
        full = sum(1 for trial in row.get("trials_run", []) if trial["epochs"] >= max_epochs(row))
        lines.append(
            f"| {seed} | {method} | {row['trials']} ({full}) | {volume_at(row['curve'], budget / 2):.2f} "
            f"| {row['hypervolume']:.2f} | {reached} |"
        )
    return lines


def max_epochs(row: dict) -> int:
    return max((trial["epochs"] for trial in row.get("trials_run", [])), default=0)


def mean_table(runs: dict[tuple[str, int], dict], budget: int) -> list[str]:
    methods = sorted({method for method, _ in runs})
    seeds = sorted({seed for _, seed in runs if all((method, seed) in runs for method in methods)})
    if not seeds:
        return ["(no seed has every method)"]
    checkpoints = [budget * quarter // 4 for quarter in (1, 2, 3, 4)]
    grid = range(1, budget + 1)
    mean_curves = {
        method: [
            (spent, statistics.fmean(volume_at(runs[(method, s)]["curve"], spent) for s in seeds))
            for spent in grid
        ]
        for method in methods
    }
    target = mean_curves[BASELINE][-1][1] if BASELINE in mean_curves else None
    header = " | ".join(f"mean HV at {spent}" for spent in checkpoints)
    lines = [
        f"Seeds {', '.join(map(str, seeds))}.",
        "",
        f"| method | {header} | trial-epochs to NSGA-II's mean final |",
        "|---|" + "---|" * (len(checkpoints) + 1),
    ]
    for method in methods:
        values = " | ".join(
            f"{volume_at([list(p) for p in mean_curves[method]], spent):.2f}" for spent in checkpoints
        )
        reached = "n/a" if target is None else first_reaching(mean_curves[method], target)
        lines.append(f"| {method} | {values} | {'—' if reached is None else reached} |")
    return lines


def latency_pairs(runs: dict[tuple[str, int], dict]) -> list[str]:
    ratios = []
    for (method_a, seed_a), (method_b, seed_b) in combinations(sorted(runs), 2):
        if seed_a != seed_b:
            continue
        timed_b = {
            json.dumps(t["point"], sort_keys=True): t["latency_ms"]
            for t in runs[(method_b, seed_b)]["trials_run"]
        }
        for trial in runs[(method_a, seed_a)]["trials_run"]:
            other = timed_b.get(json.dumps(trial["point"], sort_keys=True))
            if other and trial["latency_ms"]:
                ratios.append(max(other, trial["latency_ms"]) / min(other, trial["latency_ms"]))
    if not ratios:
        return ["No point was timed in two runs."]
    return [
        f"Same point timed in two runs of one seed: {len(ratios)} pairs, ratio median "
        f"{statistics.median(ratios):.2f}, max {max(ratios):.2f}."
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args()
    runs = load(args.paths)
    budget = budget_of(runs)
    for block in (per_seed_table(runs, budget), mean_table(runs, budget), latency_pairs(runs)):
        print("\n".join(block), end="\n\n")


if __name__ == "__main__":
    main()
