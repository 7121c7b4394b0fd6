"""The warm-up of short trials: length and the biases' starting learning rate, paired.

    python bench/warmup.py --out bench/results/warmup.jsonl
    python bench/warmup.py --variants reference warmup-10pct --candidates 0 1 3 4

Trains the same candidates with the same seed once per variant, in-process (``run_trial``), and
prints the AP, validation and training loss per epoch, then per variant the mean final AP, the mean
AP at the search benchmark's rungs (3 and 9) and the Spearman correlation of the validation loss and
of the AP at each rung with the final AP. Variants:

- ``reference``: what a trial does — warm-up max(warmup_epochs, 1000 iterations), at most 30 % of
  the run (108 of 360 updates in the benchmark), biases (BatchNorm shifts included) starting at
  warmup_bias_lr = 0.1 and falling to lr0;
- ``bias-zero``: the biases warm up from 0 like the other groups (hyp warmup_bias_lr = 0);
- ``warmup-10pct``: the warm-up capped at 10 % of the run;
- ``warmup-requested``: the warm-up is the hyp's warmup_epochs (0.5 epoch), no 1000-iteration floor.

Uses the search benchmark's dataset (``bench/search_efficiency.py`` writes it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from candidates import CANDIDATES, candidate_config, record_trial
from scipy.stats import spearmanr

import workers.training.optim as optim_module
from workers.trial import run_trial

REFERENCE = {"fraction": optim_module.MAX_WARMUP_FRACTION, "floor": optim_module.MIN_WARMUP_ITERATIONS}
VARIANTS: dict[str, dict] = {
    "reference": {},
    "bias-zero": {"hyp": {"warmup_bias_lr": 0.0}},
    "warmup-10pct": {"fraction": 0.1},
    "warmup-requested": {"floor": 0},
}


def summarise(variant: str, rows: list[dict], rungs: tuple[int, ...]) -> dict:
    final = [row["ap"][-1] for row in rows]
    summary: dict = {"variant": variant, "candidates": len(rows)}
    summary["mean_final_ap"] = round(sum(final) / max(len(final), 1), 4)
    for rung in [rung for rung in rungs if rows and rung <= len(rows[0]["ap"])]:
        summary[f"mean_ap_at_{rung}"] = round(sum(row["ap"][rung - 1] for row in rows) / max(len(rows), 1), 4)
        if len(rows) > 2:
            for key in ("val_loss", "ap"):
                rho = spearmanr([row[key][rung - 1] for row in rows], final).statistic
                summary[f"rho_{key}_{rung}_final"] = round(float(rho), 3)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-search-synth-1class"))
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--rungs", type=int, nargs="+", default=[3, 9])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--candidates", type=int, nargs="+", default=list(range(len(CANDIDATES))))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for variant in args.variants:
        settings = VARIANTS[variant]
        optim_module.MAX_WARMUP_FRACTION = settings.get("fraction", REFERENCE["fraction"])
        optim_module.MIN_WARMUP_ITERATIONS = settings.get("floor", REFERENCE["floor"])
        rows = []
        for candidate in [CANDIDATES[index] for index in args.candidates]:
            config = candidate_config(args.data, candidate, args.epochs)
            config = dataclasses.replace(config, hyp=config.hyp.replace(**settings.get("hyp", {})))
            row = record_trial(variant, candidate, run_trial(config), args.out)
            if len(row["ap"]) == args.epochs:
                rows.append(row)
        print(json.dumps(summarise(variant, rows, tuple(args.rungs))), flush=True)
    optim_module.MAX_WARMUP_FRACTION = REFERENCE["fraction"]
    optim_module.MIN_WARMUP_ITERATIONS = REFERENCE["floor"]


if __name__ == "__main__":
    main()
