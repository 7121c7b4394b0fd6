"""What a cancel leaves to resume, and the records a resumed search goes on from: the stopper
interrupts the run instead of ending it, the recorder starts from the epoch histories recorded
before, and the database writer drops the rows of trials the restored search never knew."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import select

from api.db.models import Base, Job, Team, TrialRecord
from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter, _recorded_histories
from search_spaces import JobSpec
from workers.search.outcome import SearchTrial
from workers.search.recorder import TrialRecorder, logged_histories, merge_histories
from workers.search.stopper import TUNE_RUN_MODULE, SearchStopper, interrupt_tune_run

CONFIG = {"job": {}, "arch": {"input_size": 64}, "hyp": {"lr0": 0.004}}


def test_a_request_interrupts_the_run_and_the_budget_ends_it():
    interrupts: list[bool] = []
    cancel = SearchStopper(requested=lambda: True, interrupt=lambda: interrupts.append(True) or True)
    assert not cancel.stop_all() and not cancel.stop_all()  # Tune leaves its loop, nothing finished
    assert interrupts == [True]  # asked once
    assert not SearchStopper(max_trial_epochs=5, requested=lambda: False).stop_all()
    budget = SearchStopper(max_trial_epochs=1, requested=lambda: True, interrupt=lambda: True)
    budget("t", {"status": "running"})
    assert budget.stop_all()  # the budget is spent: the search is over for good


def test_interrupting_raises_tunes_own_handler_on_the_main_thread_only():
    calls: list[int] = []

    def tune_handler(number: int, frame: object) -> None:
        calls.append(number)

    tune_handler.__module__ = TUNE_RUN_MODULE  # as ``tune.run`` installs it
    previous = signal.signal(signal.SIGUSR1, tune_handler)
    try:
        assert interrupt_tune_run() and calls == [signal.SIGUSR1]
        elsewhere: list[bool] = []
        thread = threading.Thread(target=lambda: elsewhere.append(interrupt_tune_run()))
        thread.start()
        thread.join()
        assert elsewhere == [False] and len(calls) == 1
        signal.signal(signal.SIGUSR1, lambda number, frame: calls.append(number))  # someone else's
        assert not interrupt_tune_run() and len(calls) == 1
    finally:
        signal.signal(signal.SIGUSR1, previous)


class Collect:
    def __init__(self) -> None:
        self.results: list[SearchTrial] = []

    def on_trial_result(self, trial: SearchTrial) -> None:
        self.results.append(trial)


def _report(recorder: TrialRecorder, epoch: int, ap: float) -> None:
    trial = SimpleNamespace(trial_id="t", config=CONFIG)
    recorder.on_trial_result(0, [], trial, {"status": "running", "epoch": epoch, "ap": ap})


def _epochs(history: object) -> list[float]:
    return [row["epoch"] for row in history]  # type: ignore[attr-defined]


def test_a_resumed_trials_record_goes_on_from_its_earlier_epochs():
    collect = Collect()
    before = {"t": [{"epoch": 1.0, "ap": 0.2}, {"epoch": 0.0, "ap": 0.1}]}
    recorder = TrialRecorder([collect], histories=before)
    recorder.seed({"t": [{"epoch": 0.0, "ap": 9.0}, {"epoch": 2.0, "ap": 0.3}]})  # Tune's log
    assert _epochs(recorder.histories["t"]) == [0.0, 1.0, 2.0]
    assert recorder.histories["t"][0]["ap"] == 0.1  # the rows held first win
    _report(recorder, 3, 0.4)  # restored from epoch 2's checkpoint
    assert _epochs(collect.results[-1].history) == [0.0, 1.0, 2.0, 3.0]
    _report(recorder, 2, 0.5)  # restored from an older checkpoint: epoch 2 is trained again
    assert _epochs(collect.results[-1].history) == [0.0, 1.0, 2.0]
    assert collect.results[-1].history[-1]["ap"] == 0.5


def test_histories_merge_one_row_per_epoch_and_come_from_tunes_log():
    assert _epochs(merge_histories([{"epoch": 1.0}], [{"epoch": 0.0}, {"epoch": 1.0}, {"ap": 0.3}])) == [0, 1]
    frame = pd.DataFrame(
        {
            "status": ["running", "running", "completed"],
            "epoch": [0, 1, 1],
            "ap": [0.1, float("nan"), 0.3],
            "trial_id": ["t", "t", "t"],
        }
    )
    results = [
        SimpleNamespace(metrics={"trial_id": "t"}, metrics_dataframe=frame),
        SimpleNamespace(metrics={}, metrics_dataframe=None),  # created, never started
    ]
    assert logged_histories(results) == {"t": [{"epoch": 0.0, "ap": 0.1}, {"epoch": 1.0}]}


@pytest.fixture
def writer(tmp_path) -> Iterator[DatabaseWriter]:
    engine = make_engine(f"sqlite:///{tmp_path / 'scaler.db'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    spec = JobSpec.model_validate({"name": "resume", "dataset": str(tmp_path)})
    with factory() as session:
        team = Team(name="team")
        session.add(team)
        session.flush()
        session.add(Job(id="job", team_id=team.id, name="resume", status="running", spec={}))
        session.commit()
    yield DatabaseWriter(factory, "job", spec)
    engine.dispose()


def _trial(trial_id: str, status: str, epochs: int) -> SearchTrial:
    history = tuple({"epoch": float(epoch), "ap": 0.1} for epoch in range(epochs))
    return SearchTrial(trial_id, status, {"hyp/lr0": 0.004}, epochs=epochs, ap=0.1, latency_ms=5.0,
                       history=history, finished_at=1.0)  # fmt: skip


def test_a_resume_drops_the_rows_of_trials_the_restored_search_never_knew(writer):
    writer.on_trial_complete(_trial("kept", "completed", 2))
    writer.on_trial_result(_trial("cut", "running", 1))
    writer.on_trial_result(_trial("unknown", "running", 1))  # began after the state was last saved
    assert _recorded_histories(writer.factory, "job")["cut"] == [{"epoch": 0.0, "ap": 0.1}]
    writer.on_search_restored({"kept", "cut"})
    with writer.factory() as session:
        rows = session.scalars(select(TrialRecord).order_by(TrialRecord.trial_id)).all()
        assert [row.trial_id for row in rows] == ["cut", "kept"]
        job = session.get(Job, "job")
        assert job is not None and job.trials_finished == 1 and job.epochs_used == 3
