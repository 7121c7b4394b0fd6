"""How repeatable is a CPU latency measurement? The search benchmark's fixed candidates (untrained,
one class), each measured ``--repeats`` times with ``measure_latency`` as a trial does (30 timed runs,
median), at each thread count, in one quiet process: the spread here is the machine's own; a larger
spread inside a search comes from what runs beside the trial.

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
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for candidate in CANDIDATES:
        config = candidate_config(Path("unused"), candidate, epochs=1)
        model = Detector(build_network(config, 1))
        for threads in args.threads:
            medians = [
                measure_latency(model, "cpu", input_size=config.image_size, threads=threads).p50_ms
                for _ in range(args.repeats)
            ]
            row = {
                "candidate": list(candidate),
                "threads": threads,
                "p50_ms": [round(value, 2) for value in medians],
                "spread": round(max(medians) / min(medians), 3),
            }
            emit(row, args.out)


if __name__ == "__main__":
    main()
