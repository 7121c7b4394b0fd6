"""Would a reference network timed beside each candidate steady CPU latency on a drifting VM?

The same network timed in two search runs of one seed reads up to 1.6× apart, and in one direction
for a whole run (docs/benchmarks.md): the machine's speed drifts over minutes, which the lowest of
three back-to-back round medians cannot see. The idea probed here: time a fixed reference network
in rounds interleaved with the candidate's and keep the ratio, which a drift slows alike on both
sides, scaled back to milliseconds by the quietest reference round of the whole probe.

Each repeat walks all eight fixed candidates of the search benchmark (untrained), so one candidate's
repeats are half a minute apart or more. Per candidate and repeat: the figure searches use now (the
lowest of three round medians) and the normalised one (median over the three rounds of candidate /
reference, times the quietest reference round). Rows: the two figures' spreads (highest over lowest
of the repeats).

    SCALER_FUSED_MISH=0 python bench/latency_reference.py --out bench/results/latency-reference.jsonl
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from candidates import CANDIDATES, candidate_config, emit

from scaler import Detector
from workers.latency import measure_latency
from workers.trial import build_network

REFERENCE = (64, 0.33, 0.25, 0.004, "leaky")


def network(candidate: tuple) -> tuple[Detector, int]:
    config = candidate_config(Path("unused"), candidate, epochs=1)
    return Detector(build_network(config, 1)), config.image_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    reference, reference_size = network(REFERENCE)
    models = [network(candidate) for candidate in CANDIDATES]
    rounds: dict[int, list[list[tuple[float, float]]]] = {index: [] for index in range(len(models))}
    for _ in range(args.repeats):
        for index, (model, size) in enumerate(models):
            pairs = []
            for _ in range(args.rounds):
                timed = measure_latency(model, "cpu", input_size=size, threads=args.threads, rounds=1)
                base = measure_latency(
                    reference, "cpu", input_size=reference_size, threads=args.threads, rounds=1
                )
                pairs.append((timed.estimate_ms, base.estimate_ms))
            rounds[index].append(pairs)
    quietest = min(base for repeats in rounds.values() for pairs in repeats for _, base in pairs)
    for index, repeats in rounds.items():
        plain = [min(timed for timed, _ in pairs) for pairs in repeats]
        normalised = [
            statistics.median(timed / base for timed, base in pairs) * quietest for pairs in repeats
        ]
        emit(
            {
                "candidate": list(CANDIDATES[index]),
                "threads": args.threads,
                "plain_ms": [round(value, 2) for value in plain],
                "normalised_ms": [round(value, 2) for value in normalised],
                "plain_spread": round(max(plain) / min(plain), 3),
                "normalised_spread": round(max(normalised) / min(normalised), 3),
                "reference_ms": [round(base, 2) for pairs in repeats for _, base in pairs],
            },
            args.out,
        )


if __name__ == "__main__":
    main()
