"""Progress at a glance (``cli.progress``): bars, elapsed and estimated time redrawn in place on a
terminal; a plain line per change when the output is a file or a pipe."""

from __future__ import annotations

import io

from cli.progress import CLEAR_TO_END, EMPTY, FULL, ProgressPrinter, ProgressState, bar, duration, render


def state(**changes: object) -> ProgressState:
    values: dict[str, object] = {
        "status": "running",
        "trials": 1,
        "trials_total": 4,
        "epochs": 6,
        "epochs_total": 24,
        "elapsed_s": 120.0,
        "front": 1,
        "hypervolume": 0.5,
    }
    return ProgressState(**{**values, **changes})  # type: ignore[arg-type]


def test_the_estimate_follows_the_pace_in_trial_epochs():
    assert state().remaining_s() == 360.0  # 6 of 24 epochs in 2 minutes: 18 more take 6
    assert state(epochs=0).remaining_s() is None  # no pace yet
    assert state(status="done", epochs=24).remaining_s() is None
    assert duration(360.0) == "6m00s" and duration(42.4) == "42s" and duration(3720) == "1h02m"
    assert duration(None) == "?"


def test_bars_fill_with_the_share_done_and_never_overflow():
    assert bar(1, 4, width=8) == FULL * 2 + EMPTY * 6
    assert bar(9, 4, width=8) == FULL * 8 and bar(0, 0, width=8) == EMPTY * 8


def test_a_terminal_gets_one_line_redrawn_and_a_pipe_a_line_per_change():
    terminal = io.StringIO()
    printer = ProgressPrinter(terminal, terminal=True)
    printer.show(state())
    printer.show(state(elapsed_s=121.0))
    printer.message("[2/4] trial t2: completed")
    printer.show(state(trials=2))
    printer.close()
    written = terminal.getvalue()
    assert written.count("\r") >= 3 and CLEAR_TO_END in written and FULL in written
    assert "6m00s left" in written and "[2/4] trial t2: completed\n" in written
    assert written.endswith("\n")  # the bar's line ended once the search ended

    pipe = io.StringIO()
    printer = ProgressPrinter(pipe, terminal=False)
    printer.show(state())
    printer.show(state(elapsed_s=180.0))  # only time passed: no new line
    printer.show(state(trials=2, epochs=12))
    printer.close()
    lines = pipe.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in pipe.getvalue() and FULL not in pipe.getvalue()
    assert lines[0] == render(state(), terminal=False)
    assert "trials 2/4 epochs 12/24" in lines[1] and "2m00s elapsed, 2m00s left" in lines[1]
