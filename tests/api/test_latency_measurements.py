"""The latency measurement cache and the re-measuring of unstable timings, end to end on a real
Ray and a real database (SQLite and PostgreSQL): in one search a network is timed once (its second
trial takes the cache's figure, marked cached), an unstable measurement stays out of the cache and
is timed again at the search's end (re-measured, stable, on the front, its row updated by the
runner's ``DatabaseWriter``), and a later job on the same device reuses the first job's entry
through the ``latency_measurements`` table.

The one thing faked is what a test cannot control, the machine's noise: every Ray worker of this
module's Ray wraps the measurement (``workers.trial.measure_latency``) so that the first
measurement after the test arms a trigger file comes out unstable (spread 2.0) and every other is
as quiet as a stable one."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from sqlalchemy import select

from api.db.migrate import upgrade
from api.db.models import Job, LatencyMeasurement, Team, TrialRecord
from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter, known_latencies, run_job, trial_of
from search_spaces import JobSpec, parse_job_spec
from tests.api.conftest import fresh_postgres_database, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unstable_trigger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Ray whose workers make the next measurement unstable while the returned file exists."""
    trigger = tmp_path_factory.mktemp("unstable") / "next-measurement-unstable"

    def setup() -> None:
        import dataclasses
        import os

        import workers.trial
        from workers.results import UNSTABLE_SPREAD

        measure = workers.trial.measure_latency

        def noisy(*args: object, **options: object) -> object:
            stats = measure(*args, **options)
            try:
                os.unlink(trigger)  # one measurement only takes the trigger
            except FileNotFoundError:
                return dataclasses.replace(stats, spread=min(stats.spread, UNSTABLE_SPREAD))
            return dataclasses.replace(stats, spread=2.0)

        workers.trial.measure_latency = noisy

    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"worker_process_setup_hook": setup},
    )
    yield trigger
    ray.shutdown()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(fresh_postgres_database())
        else:
            url = f"sqlite:///{tmp_path / 'scaler.db'}"
        upgrade(url)
        yield url


def _spec(dataset: Path, widths: tuple[float, float]) -> JobSpec:
    return parse_job_spec(
        {
            "name": "latency-cache",
            "dataset": str(dataset),
            "space": {
                "architecture": {
                    "input_size": [64],
                    "depth_multiple": {"low": 0.33, "high": 0.33},
                    "width_multiple": {"low": widths[0], "high": widths[1]},
                },
                "hyperparameters": {
                    "base": {"lr0": 0.004, "warmup_epochs": 0.0, "mosaic": 0.0},
                    "search": ["lr0"],
                    "anchors": False,
                },
            },
            "objectives": {"latency": {"threads": 1, "rounds": 2}},
            "budget": {"max_trials": 3, "epochs_per_trial": 1, "max_concurrent_trials": 1},
            "training": {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam"},
            "scheduler": "fifo",
        }
    )


def _job(factory, spec: JobSpec) -> str:
    job_id = uuid.uuid4().hex
    with factory() as session:
        team = session.scalar(select(Team).where(Team.name == "a"))
        if team is None:
            team = Team(name="a")
            session.add(team)
            session.flush()
        session.add(Job(id=job_id, team_id=team.id, name=spec.name, spec=spec.model_dump(mode="json")))
        session.commit()
    return job_id


def test_a_network_is_timed_once_per_device_across_trials_and_jobs_and_an_unstable_one_again(
    unstable_trigger: Path, database_url: str, synth_dataset: Path, tmp_path: Path
) -> None:
    from workers.api import run_search

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    # job 1, as the runner runs it (its writer, its preloaded measurements), with chosen points:
    # the small network first (timed on a busy moment), then the large one twice
    spec = _spec(synth_dataset, (0.125, 0.25))
    job_id = _job(factory, spec)
    base = spec.space.default_point()
    small = {**base, "arch/width_multiple": 0.125, "hyp/lr0": 0.004}
    large = [{**base, "arch/width_multiple": 0.25, "hyp/lr0": lr0} for lr0 in (0.004, 0.003)]
    assert known_latencies(factory, spec) == {}
    unstable_trigger.touch()
    result = run_search(
        spec,
        tmp_path / "job1",
        callbacks=[DatabaseWriter(factory, job_id, spec)],
        initial_points=[small, *large],
        export_front=False,
        known_latencies=known_latencies(factory, spec),
    )
    assert not unstable_trigger.exists()  # the first measurement was the unstable one
    by_width = {}
    for trial in sorted(result.trials, key=lambda t: t.finished_at or 0.0):
        by_width.setdefault(trial.point["arch/width_multiple"], []).append(trial)
    (first_small,), (first_large, second_large) = by_width[0.125], by_width[0.25]
    assert all(trial.status == "completed" for trial in result.trials)
    # the large network was timed once: its second trial took the first one's measurement
    assert not first_large.latency_stats.cached and second_large.latency_stats.cached
    assert second_large.latency_stats.key == first_large.latency_stats.key
    assert second_large.latency_ms == first_large.latency_ms
    # the small one, unstable when its trial timed it, was timed again (not from the cache: an
    # unstable measurement is never kept) and, stable and the fastest, is on the front
    remeasured = first_small.latency_stats
    assert remeasured.remeasured == 1 and remeasured.stable and not remeasured.cached
    assert (
        first_small.latency_spread == remeasured.spread and first_small.latency_ms == remeasured.estimate_ms
    )
    # the front is ordered by the figures it holds, the re-measured one included: the small network
    # first whenever its re-measurement is the fastest (a busy machine may time it slower)
    on_front = [trial for trial in result.trials if trial.trial_id in result.front]
    assert result.front[0] == min(on_front, key=lambda trial: trial.latency_ms).trial_id
    if first_small.latency_ms < min(first_large.latency_ms, second_large.latency_ms):
        assert result.front[0] == first_small.trial_id
    with factory() as session:
        rows = {row.trial_id: row for row in session.scalars(select(TrialRecord)).all()}
        stored = {row.key: row for row in session.scalars(select(LatencyMeasurement)).all()}
        job = session.get(Job, job_id)
        assert job is not None and job.front and job.front[0] == result.front[0]
    # the runner's writer stored the new figures on the row, and each network's stable measurement
    assert trial_of(rows[first_small.trial_id]).latency_stats == remeasured
    assert rows[second_large.trial_id].latency_stats["cached"] is True
    assert set(stored) == {remeasured.key, first_large.latency_stats.key}
    entry = stored[first_large.latency_stats.key]
    assert entry.device == "cpu" and entry.runtime == "torch" and entry.stats["cached"] is False
    assert entry.device_name == first_large.latency_stats.device_name

    # job 2 on the same device, through the runner: its one network (the large one) is not timed
    # again, its measurement comes from job 1's entry in the database
    later = _spec(synth_dataset, (0.25, 0.25))
    later = later.model_copy(update={"budget": later.budget.model_copy(update={"max_trials": 1})})
    second_job = _job(factory, later)
    settings = make_settings(tmp_path / "service", database_url)
    assert run_job(settings, second_job) == "done"
    with factory() as session:
        (row,) = session.scalars(select(TrialRecord).where(TrialRecord.job_id == second_job)).all()
        count = len(session.scalars(select(LatencyMeasurement)).all())
    stats = trial_of(row).latency_stats
    assert stats is not None and stats.cached and stats.key == first_large.latency_stats.key
    assert stats.estimate_ms == first_large.latency_ms and count == 2
    engine.dispose()
