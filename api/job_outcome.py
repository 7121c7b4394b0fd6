"""A job whose every trial failed: how that is told, and the reasons the job fails with."""

from __future__ import annotations

from collections.abc import Sequence

from workers.api import FAILED_STATUSES, SearchTrial

LISTED_REASONS = 3


def all_failed(trials: Sequence[SearchTrial]) -> bool:
    """Whether the search ran trials and every one of them failed (nothing was learned)."""
    return bool(trials) and all(trial.status in FAILED_STATUSES for trial in trials)


def failure_summary(trials: Sequence[SearchTrial]) -> str:
    """The line "all N trials failed: …" with the first distinct reasons (first line of each) and
    their counts."""
    counts: dict[str, int] = {}
    for trial in trials:
        lines = [line.strip() for line in (trial.error or "no reason recorded").strip().splitlines()]
        # a dataset error's first line only counts its problems: the first problem says what is wrong
        reason = " ".join(lines[:2] if len(lines) > 1 and lines[1].startswith("- ") else lines[:1])[:300]
        counts[reason] = counts.get(reason, 0) + 1
    listed = "; ".join(f"{reason} (×{count})" for reason, count in list(counts.items())[:LISTED_REASONS])
    more = len(counts) - LISTED_REASONS
    return f"all {len(trials)} trials failed: {listed}" + (f"; and {more} other reasons" if more > 0 else "")
