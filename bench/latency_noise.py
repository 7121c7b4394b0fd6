"""How repeatable is a CPU latency measurement? The search benchmark's fixed candidates (untrained,
one class), each measured ``--repeats`` times with ``measure_latency`` as a trial does, with one
round of 30 timed runs (the figure before rounds existed: that round's median) and with three
(the lowest of three round medians, the default since), interleaved so that the machine's drift
touches both alike. The spread (highest over lowest of the repeats) is the machine's own in a
quiet process; a larger spread inside a search comes from what runs beside the trial.

    SCALER_FUSED_MISH=0 python bench/latency_noise.py --out bench/results/latency-noise.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from candidates import CANDIDATES, candidate_config, emit

from scaler import Detector
from workers.latency import measure_latency
from workers.trial import build_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for candidate in CANDIDATES:
        config = candidate_config(Path("unused"), candidate, epochs=1)
        model = Detector(build_network(config, 1))
        for threads in args.threads:
            estimates: dict[int, list[float]] = {rounds: [] for rounds in args.rounds}
            flagged: dict[int, int] = dict.fromkeys(args.rounds, 0)
            for _ in range(args.repeats):
                for rounds in args.rounds:
                    stats = measure_latency(
                        model, "cpu", input_size=config.image_size, threads=threads, rounds=rounds
                    )
                    estimates[rounds].append(stats.estimate_ms)
                    flagged[rounds] += not stats.stable
            for rounds, values in estimates.items():
                row = {
                    "candidate": list(candidate),
                    "threads": threads,
                    "rounds": rounds,
                    "estimate_ms": [round(value, 2) for value in values],
                    "spread": round(max(values) / min(values), 3),
                    "flagged_unstable": flagged[rounds],
                }
                emit(row, args.out)


if __name__ == "__main__":
    main()
