"""Does the AP at a successive-halving rung predict the final AP? One cosine over the trial against
a cosine restarted at the rung, paired.

    python bench/rung_schedule.py --out bench/results/rung-schedule.jsonl

Trains the same candidates with the same seed twice, in-process (``run_trial``): ``run`` (one
cosine over all epochs, what a FIFO trial gets) and ``rungs`` (the cosine restarted at ``--rung``,
what an ``lr_schedule: rungs`` successive-halving trial gets). Prints per variant the Spearman rank
correlation between the AP at the rung and the final AP, and the mean final AP. Uses the search
benchmark's dataset (``bench/search_efficiency.py`` writes it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from candidates import CANDIDATES, candidate_config, record_trial
from scipy.stats import spearmanr

from workers.trial import run_trial


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-search-synth-1class"))
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--rung", type=int, default=6)
    parser.add_argument("--variants", nargs="+", default=["rungs", "run"], choices=["rungs", "run"])
    parser.add_argument("--candidates", type=int, nargs="+", default=list(range(len(CANDIDATES))))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for variant in args.variants:
        restarts = (args.rung,) if variant == "rungs" else ()
        at_rung, final = [], []
        for candidate in [CANDIDATES[index] for index in args.candidates]:
            result = run_trial(candidate_config(args.data, candidate, args.epochs, restarts))
            aps = record_trial(variant, candidate, result, args.out)["ap"]
            if len(aps) == args.epochs:
                at_rung.append(aps[args.rung - 1])
                final.append(aps[-1])
        rho = spearmanr(at_rung, final)
        summary = {"variant": variant, "spearman_rung_final": round(float(rho.statistic), 3)}
        summary["p"] = round(float(rho.pvalue), 3)
        summary["mean_final_ap"] = round(sum(final) / max(len(final), 1), 4)
        summary["mean_rung_ap"] = round(sum(at_rung) / max(len(at_rung), 1), 4)
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
