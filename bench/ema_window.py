"""The EMA's window on short runs: the reference's ramp against one sized to the run, paired.

    python bench/ema_window.py --out bench/results/ema-window.jsonl

Trains the same candidates with the same seed twice, in-process (``run_trial``): once with the
reference's EMA (ramp 2000 updates, decay 0.9999, whatever the run's length) and once with the
window capped at a tenth of the run (``workers.training.ema``), and prints the AP per epoch.
Uses the search benchmark's dataset (``bench/search_efficiency.py`` writes it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from candidates import CANDIDATES, candidate_config, emit

import workers.training.ema as ema_module
from workers.trial import run_trial

REFERENCE_WINDOW = 1e9  # of the planned updates: never caps, the reference's numbers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-search-synth-1class"))
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    run_sized = ema_module.WINDOW_FRACTION
    for variant, fraction in (("reference", REFERENCE_WINDOW), ("run-sized", run_sized)):
        ema_module.WINDOW_FRACTION = fraction
        for candidate in CANDIDATES[:4]:  # the four the recorded rows used
            config = candidate_config(args.data, candidate, args.epochs)
            result = run_trial(config)
            aps = [round(epoch["metrics"]["ap"], 4) for epoch in result.history]
            row = {"variant": variant, "candidate": list(candidate), "ap": aps}
            row["error"] = result.error
            emit(row, args.out)


if __name__ == "__main__":
    main()
