"""Progress you can read at a glance: bars for trials and trial-epochs, elapsed and estimated time,
front size and hypervolume — redrawn in place on a terminal, plain lines (one per change) when the
output is a file or a pipe (a log, CI). ``scaler watch``, ``scaler demo`` and ``scaler search``
show it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

BAR_WIDTH = 20
FULL, EMPTY = "█", "░"
CLEAR_TO_END = "\x1b[K"  # erase what a longer earlier line left on the terminal


@dataclass(frozen=True)
class ProgressState:
    """Where a search stands. ``epochs_total``: the trial-epochs its budget allows."""

    status: str
    trials: int
    trials_total: int
    epochs: int
    epochs_total: int
    elapsed_s: float
    front: int
    hypervolume: float | None

    def remaining_s(self) -> float | None:
        """The time left at the pace so far, by trial-epochs (None before the first epoch, or when
        the search has ended)."""
        if self.epochs <= 0 or self.status not in ("running", "queued"):
            return None
        left = max(self.epochs_total - self.epochs, 0)
        return self.elapsed_s * left / self.epochs

    def changes(self) -> tuple[object, ...]:
        """What a plain line is printed again for (time passing alone is not a change)."""
        return (self.status, self.trials, self.trials_total, self.epochs, self.epochs_total, self.front,
                self.hypervolume)  # fmt: skip


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    share = min(done / total, 1.0) if total > 0 else 0.0
    filled = round(width * share)
    return FULL * filled + EMPTY * (width - filled)


def duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``42s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def render(state: ProgressState, terminal: bool) -> str:
    """One line: with bars on a terminal, plain words otherwise."""
    volume = f"{state.hypervolume or 0:.5f}"
    timing = f"{duration(state.elapsed_s)} elapsed, {duration(state.remaining_s())} left"
    trials = f"{state.trials}/{state.trials_total}"
    epochs = f"{state.epochs}/{state.epochs_total}"
    if terminal:
        return (
            f"{state.status:9} trials {bar(state.trials, state.trials_total)} {trials}"
            f"  epochs {bar(state.epochs, state.epochs_total)} {epochs}"
            f"  {timing}  front {state.front}  hypervolume {volume}"
        )
    counts = f"trials {trials} epochs {epochs} front {state.front} hypervolume {volume}"
    return f"{state.status:9} {counts} ({timing})"


class ProgressPrinter:
    """Shows successive states on ``stream``: redrawn in place on a terminal, a line per change
    otherwise. ``terminal``: None asks the stream."""

    def __init__(self, stream: TextIO | None = None, terminal: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.last: tuple[object, ...] | None = None
        self.drawn = False

    def show(self, state: ProgressState) -> None:
        if self.terminal:
            self.stream.write("\r" + render(state, terminal=True) + CLEAR_TO_END)
            self.stream.flush()
            self.drawn = True
        elif state.changes() != self.last:
            self.stream.write(render(state, terminal=False) + "\n")
            self.stream.flush()
            self.last = state.changes()

    def message(self, line: str) -> None:
        """A line of its own above the bar (a finished trial), the bar drawn again after it."""
        if self.terminal and self.drawn:
            self.stream.write("\r" + CLEAR_TO_END)
        self.stream.write(line + "\n")
        self.stream.flush()
        self.drawn = False

    def close(self) -> None:
        """End the bar's line (a terminal's cursor moves past it)."""
        if self.terminal and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
