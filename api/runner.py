"""Runs one claimed job in its own process: ``python -m api.runner JOB_ID``.

The search writes each trial to the database as it reports and finishes, keeps the job's
heartbeat fresh, stops when the job is cancelled, and ends the job as done, cancelled or failed
with the reason. A job whose search state exists on disk is resumed from it (Tune's experiment
state: finished trials are kept, unfinished ones continue from their checkpoints — a cancel
leaves the trials it cut unfinished, so a resumed cancelled job runs the rest of its budget),
each trial's epoch history going on from the one in its row."""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import traceback
from collections.abc import Collection, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Job, LatencyMeasurement, TrialRecord, utcnow
from api.db.session import make_engine, make_session_factory
from api.devices import resolve_device
from api.events import (
    JobStarted,
    TrialStarted,
    add_event,
    add_front_change,
    end_job,
    epoch_reported,
    trial_ended,
)
from api.job_outcome import all_failed, failure_summary
from api.job_states import JobState
from api.known_results import stored_known_results, trial_of, warm_start_points
from api.settings import Settings, get_settings
from search_spaces import JobSpec
from workers.api import LatencyStats, SearchResult, SearchTrial, TrialOrigin, TrialStatus

HEARTBEAT_SECONDS = 5.0


def job_folder(settings: Settings, job_id: str) -> Path:
    return (settings.data_dir / "jobs" / job_id).resolve()


class DatabaseWriter:
    """A search callback: upserts each trial, and after each finished trial the job's progress,
    compute used, front and hypervolume; stores each new stable latency measurement a trial
    carries (``latency_measurements``: what later jobs on the device reuse). Adds the job's events
    (``api.events``) in the same commits: a trial's start (the first report of it), each epoch it
    reports, its end, and each change of the front."""

    def __init__(self, factory: sessionmaker[Session], job_id: str, spec: JobSpec) -> None:
        self.factory = factory
        self.job_id = job_id
        self.spec = spec
        self.devices = spec.budget.gpus_per_trial or spec.budget.cpus_per_trial or 1  # held per trial
        self.lock = threading.Lock()
        self.stored: set[str] = set()  # the measurements' keys stored (or found stored) already

    def _upsert(self, session: Session, trial: SearchTrial) -> None:
        """Writes the trial's row, and tells what changed: the trial's start (a new row), a new
        epoch of a running trial, its end (a running or new trial with another status)."""
        row = session.scalar(
            select(TrialRecord).where(
                TrialRecord.job_id == self.job_id, TrialRecord.trial_id == trial.trial_id
            )
        )
        before = None if row is None else (row.status, row.epochs)
        if row is None:
            row = TrialRecord(job_id=self.job_id, trial_id=trial.trial_id)
            session.add(row)
            add_event(session, self.job_id, TrialStarted(trial_id=trial.trial_id))
        for field, value in trial.to_dict().items():  # a column per field of the record
            setattr(row, field, value)
        row.device_hours = trial.seconds * self.devices / 3600
        if trial.status == TrialStatus.RUNNING and trial.epochs > (0 if before is None else before[1]):
            add_event(session, self.job_id, epoch_reported(trial))
        elif trial.status != TrialStatus.RUNNING and (before is None or before[0] == TrialStatus.RUNNING):
            add_event(session, self.job_id, trial_ended(trial))  # once: not again when re-measured

    def on_search_start(self, mlflow_run_id: str, mlflow_experiment_id: str) -> None:
        with self.lock, self.factory() as session:
            job = session.get(Job, self.job_id)
            assert job is not None
            job.mlflow_run_id, job.mlflow_experiment_id = mlflow_run_id, mlflow_experiment_id
            session.commit()

    def on_search_restored(self, trial_ids: Collection[str]) -> None:
        """A resumed search holds these trials (Tune's saved experiment state). Any other trained
        row of the job is a trial that state never knew (it started after the state was last saved,
        before the runner died): the search redoes that work under a new trial id, so the row goes,
        leaving no trial counted twice or running for ever. Results it did not train stay."""
        with self.lock, self.factory() as session:
            rows = session.scalars(select(TrialRecord).where(TrialRecord.job_id == self.job_id)).all()
            for row in rows:
                if row.trial_id not in trial_ids and TrialOrigin(row.origin).trained:
                    session.delete(row)
            self._update_job(session)

    def on_trial_result(self, trial: SearchTrial) -> None:
        """An epoch: the trial's row and the job's trial-epochs so far (progress within a trial)."""
        with self.lock, self.factory() as session:
            self._upsert(session, trial)
            session.flush()
            session.get_one(Job, self.job_id).epochs_used = _trained_epochs(session, self.job_id)
            session.commit()
        self._store_latency(trial)

    def on_trial_complete(self, trial: SearchTrial) -> None:
        with self.lock, self.factory() as session:
            self._upsert(session, trial)
            self._update_job(session)
        self._store_latency(trial)

    def on_trial_remeasured(self, trial: SearchTrial) -> None:
        """Its latency was timed again at the search's end: the row takes the new figures, and the
        job's front, which an unstable measurement stayed off, is computed again."""
        self.on_trial_complete(trial)

    def _store_latency(self, trial: SearchTrial) -> None:
        """The trial's measurement as a cache entry, when it is a new stable one (``storable``); a
        key another job stored first is left as it is."""
        from workers.api import cache_entry, scope_of, storable

        stats = trial.latency_stats
        if stats is None or not storable(stats) or stats.key in self.stored:
            return
        assert stats.key is not None
        with self.lock, self.factory() as session:
            known = session.scalar(select(LatencyMeasurement.id).where(LatencyMeasurement.key == stats.key))
            if known is None:
                session.add(
                    LatencyMeasurement(
                        key=stats.key,
                        device=scope_of(stats),
                        device_name=stats.device_name[:200],
                        runtime=stats.runtime,
                        stats=cache_entry(stats).to_dict(),
                    )
                )
                try:
                    session.commit()
                except IntegrityError:  # another job's runner stored the same key just now
                    session.rollback()
        self.stored.add(stats.key)

    def settle(self, trials: Sequence[SearchTrial]) -> None:
        """The search's final word on its trials, once it has ended: a trial Tune ended without a
        last callback (cut when the trial-epoch budget ran out, or by a cancel) takes the status the
        search gave it (stopped) instead of being left running; all else its row already holds."""
        final = {trial.trial_id: trial.status for trial in trials}
        with self.lock, self.factory() as session:
            rows = session.scalars(
                select(TrialRecord).where(
                    TrialRecord.job_id == self.job_id, TrialRecord.status == TrialStatus.RUNNING
                )
            ).all()
            for row in rows:
                row.status = final.get(row.trial_id, row.status)
                if row.status != TrialStatus.RUNNING:
                    add_event(session, self.job_id, trial_ended(row))
            self._update_job(session)

    def with_stored_front(self, result: SearchResult) -> SearchResult:
        """``result`` with the front, volume and history of all the job's rows (imports included)."""
        from workers.api import summarise

        with self.lock, self.factory() as session:
            rows = session.scalars(select(TrialRecord).where(TrialRecord.job_id == self.job_id)).all()
            trials = [trial_of(row) for row in rows if row.status != TrialStatus.RUNNING]
        front, volume, history, _ = summarise(trials, self.spec.objectives)
        return dataclasses.replace(result, front=front, hypervolume=volume, hypervolume_history=history)

    def refresh_job(self, session: Session) -> None:
        """The job's summary from its rows (commits): imported results join its front at once."""
        self._update_job(session)

    def _update_job(self, session: Session) -> None:
        """The job's progress, compute used, front and hypervolume from its trial rows (progress
        and compute: the trials it trained; the front: every measured result); commits."""
        from workers.api import summarise

        session.flush()
        rows = session.scalars(select(TrialRecord).where(TrialRecord.job_id == self.job_id)).all()
        finished = [row for row in rows if row.status != TrialStatus.RUNNING]
        trials = [trial_of(row) for row in finished]
        front, volume, history, _ = summarise(trials, self.spec.objectives)
        job = session.get(Job, self.job_id)
        assert job is not None
        job.device_hours = sum(row.device_hours or 0.0 for row in rows)
        job.trials_finished = sum(trial.origin.trained for trial in trials)
        job.epochs_used = _trained_epochs(session, self.job_id)
        add_front_change(session, job, front, volume)
        job.front, job.hypervolume, job.hypervolume_history = list(front), volume, list(history)
        job.heartbeat_at = utcnow()
        session.commit()


def _trained_epochs(session: Session, job_id: str) -> int:
    """The epochs the job's trials have trained so far (results it did not train count none)."""
    rows = session.scalars(select(TrialRecord).where(TrialRecord.job_id == job_id)).all()
    return sum(row.epochs for row in rows if TrialOrigin(row.origin).trained)


def _heartbeat(factory: sessionmaker[Session], job_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            with factory() as session:
                job = session.get(Job, job_id)
                if job is not None:
                    job.heartbeat_at = utcnow()
                    session.commit()
        except Exception:  # a dropped connection: the next beat reconnects through the pool
            continue


def _recorded_histories(factory: sessionmaker[Session], job_id: str) -> dict[str, list[dict[str, float]]]:
    """Each trial row's epoch history: what a resumed search's records go on from."""
    with factory() as session:
        rows = session.scalars(select(TrialRecord).where(TrialRecord.job_id == job_id)).all()
        return {row.trial_id: [dict(item) for item in row.history or []] for row in rows}


def known_latencies(factory: sessionmaker[Session], spec: JobSpec) -> dict[str, LatencyStats]:
    """The measurements stored for the job's device (``cache_scope``), by cache key: what its search
    reuses instead of timing a network again."""
    from workers.api import cache_scope

    latency = spec.objectives.latency
    scope = cache_scope(latency.device, latency.registered)
    with factory() as session:
        rows = session.scalars(select(LatencyMeasurement).where(LatencyMeasurement.device == scope)).all()
        return {row.key: LatencyStats.from_dict(row.stats) for row in rows}


def _initial_weights(factory: sessionmaker[Session], team_id: int, spec: JobSpec, folder: Path) -> str | None:
    """Where the job's ``training.initial_weights`` lie for ``run_search``: a ``job:`` reference
    exported once into the job's folder (a resumed job reuses that export); None for a path,
    which ``run_search`` reads from the spec itself, checking it against the data roots again."""
    from api.initial_weights import export_referenced_weights

    value = spec.training.initial_weights
    if value is None:
        return None
    with factory() as session:
        exported = export_referenced_weights(session, team_id, value, folder / "initial_weights")
    return None if exported is None else str(exported)


def run_job(settings: Settings, job_id: str) -> str:
    """Run the job to its end; returns the final status."""
    from api.fair_share import jobs_sharing_from_environment
    from workers.api import ensure_ray, local_resources, resolve_resources, run_search

    engine = make_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    with factory() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise SystemExit(f"no job {job_id}")
        spec = JobSpec.model_validate(job.spec)
        team_id = job.team_id
        # the registered device the job times on, as the service knows it (None: the trial's own
        # device, or a device the service no longer knows, which the search then fails on)
        latency = spec.objectives.latency
        device = resolve_device(session, latency.device) if latency.registered else None
        folder = job_folder(settings, job_id)
        resume = (folder / "ray" / "search").is_dir()
        add_event(session, job_id, JobStarted(resumed=resume))
        session.commit()
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(factory, job_id, stop), daemon=True)
    beat.start()

    def cancel_requested() -> bool:
        with factory() as session:
            current = session.get(Job, job_id)
            return bool(current is None or current.cancel_requested)

    status, error, result = JobState.DONE, None, None
    try:
        # a Ray started here for the job holds its CPU target device (this machine has one)
        ensure_ray(settings.ray_address, resources=local_resources(spec, device))
        # its share of a cluster other jobs share (the scheduler says how many); device-hours
        # count the CPUs a trial really holds
        spec = resolve_resources(spec, jobs_sharing_from_environment())
        writer = DatabaseWriter(factory, job_id, spec)
        initial_weights = _initial_weights(factory, team_id, spec, folder)
        result = run_search(
            spec,
            folder,
            callbacks=[writer],
            tracking_uri=settings.resolved_tracking_uri(),
            resume=resume,
            # a fresh search seeds its searcher with them (a restored one keeps its searcher's state)
            initial_points=warm_start_points(factory, spec),
            ray_address=settings.ray_address,
            stop_requested=cancel_requested,
            data_roots=settings.allowed_roots(),
            histories=_recorded_histories(factory, job_id) if resume else None,
            initial_weights=initial_weights,
            target_device=device,
            known_latencies=known_latencies(factory, spec),
            known_results=stored_known_results(factory, job_id, spec),  # told to its searcher
        )
        writer.settle(result.trials)
        result = writer.with_stored_front(result)  # with the results imported while it ran
        if cancel_requested():
            status = JobState.CANCELLED
        elif all_failed([trial for trial in result.trials if trial.origin.trained]):
            status, error = JobState.FAILED, failure_summary(result.trials)
    except Exception as failure:  # the job fails with its reason; the service goes on
        status, error = JobState.FAILED, f"{type(failure).__name__}: {failure}"
        traceback.print_exc()
    finally:
        stop.set()
    with factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.error, job.finished_at = status, error, utcnow()
        job.cancel_requested = False
        if result is not None:
            add_front_change(session, job, result.front, result.hypervolume)
            job.front, job.hypervolume = list(result.front), result.hypervolume
            job.hypervolume_history = list(result.hypervolume_history)
            job.mlflow_run_id = result.mlflow_run_id
        ended = end_job(session, job)
        session.commit()
    if spec.notify is not None:
        from api.webhook import notify_job_end, webhook_body

        body = webhook_body(job_id, job.name, ended)
        notify_job_end(factory, job_id, spec.notify.webhook, body, settings.webhook_allowed())
    engine.dispose()
    return status


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m api.runner JOB_ID")
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("api").setLevel(logging.INFO)  # the webhook's attempts, in runner.log
    run_job(get_settings(), sys.argv[1])


if __name__ == "__main__":
    main()
