"""The job scheduler: claims queued jobs (and running jobs whose runner went silent) and runs each
in its own process (``api.runner``). Safe with several schedulers: a claim is a row lock taken with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers) plus a conditional update.
Queued jobs are taken in the fair-share order of ``api.fair_share`` (team priorities and limits);
a team's limit holds across schedulers: its claims take the team's row lock one at a time, and the
update counts the team's running jobs in the same statement."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from api.db.models import Job, Team, utcnow
from api.events import end_job
from api.fair_share import JOBS_SHARING_VARIABLE, QueuedJob, TeamPolicy, jobs_sharing, read_queue
from api.job_states import JobState
from api.runner import job_folder
from api.settings import Settings

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 20  # queued jobs a turn tries (others' claims may take the first ones meanwhile)


class JobScheduler:
    def __init__(
        self, settings: Settings, factory: sessionmaker[Session], max_jobs: int | None = None
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.max_jobs = max_jobs or settings.scheduler_max_jobs
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.processes: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tracking_ready = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scaler-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; running jobs' processes are stopped and their jobs queued again, so that
        the next scheduler resumes them from their search state at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
        with self.factory() as session:
            session.execute(
                update(Job)
                .where(Job.status == JobState.RUNNING, Job.claimed_by == self.name)
                .values(
                    status=JobState.QUEUED, claimed_by=None, resume_requested=True, version=Job.version + 1
                )
            )
            session.commit()
        self.processes.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reap()
                self._prepare_tracking()
                if len(self.processes) < self.max_jobs:
                    job_id = self.claim()
                    if job_id is not None:
                        self.launch(job_id)
                        continue
            except Exception:  # a dropped database connection: log, wait, reconnect on the next turn
                log.exception("scheduler turn failed")
            self._stop.wait(self.settings.scheduler_poll_seconds)

    def _prepare_tracking(self) -> None:
        """Create the MLflow store once, before any runner: runners starting together on a fresh
        database-backed store would each create its tables, and all but one fail. A tracking
        server (http) looks after its own store."""
        if self._tracking_ready:
            return
        uri = self.settings.resolved_tracking_uri()
        if not uri.startswith(("http://", "https://", "databricks")):
            from mlflow.tracking import MlflowClient

            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        self._tracking_ready = True

    def claim(self) -> str | None:
        """The next job this scheduler runs, now claimed (None: none it may take): a running job
        whose runner went silent first (it holds its team's slot already), then the first queued
        job in the fair-share order whose claim succeeds."""
        taken = self._take_over_silent()
        if taken is not None:
            return taken
        with self.factory() as session:
            queue = read_queue(session, self.settings)
        for candidate in queue.order()[:CLAIM_ATTEMPTS]:
            if self.claim_queued(candidate, queue.policies[candidate.team_id]):
                return candidate.job_id
        return None

    def _take_over_silent(self) -> str | None:
        now = utcnow()
        stale = dt.timedelta(seconds=self.settings.scheduler_stale_seconds)
        with self.factory() as session:
            candidate = session.scalar(
                select(Job)
                .where(Job.status == JobState.RUNNING, Job.heartbeat_at < now - stale)
                .order_by(Job.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if candidate is None:
                return None
            claimed = session.execute(
                update(Job)
                .where(
                    Job.id == candidate.id,
                    Job.status == JobState.RUNNING,
                    Job.claimed_by == candidate.claimed_by,
                )
                .values(claimed_by=self.name, heartbeat_at=now, version=Job.version + 1)
            )
            session.commit()
            return candidate.id if claimed.rowcount == 1 else None

    def claim_queued(self, candidate: QueuedJob, policy: TeamPolicy) -> bool:
        """Claim the queued ``candidate`` unless another scheduler took it or its team is at its
        limit by now (``claim`` chose it from an earlier look at the queue)."""
        now = utcnow()
        with self.factory() as session:
            conditions = [Job.id == candidate.job_id, Job.status == JobState.QUEUED]
            if policy.max_jobs is not None:
                # PostgreSQL: the team's claims one at a time (a NO KEY UPDATE lock lets its jobs'
                # inserts through), so the count below sees the claim committed before this one
                session.execute(
                    select(Team.id).where(Team.id == candidate.team_id).with_for_update(key_share=True)
                )
                running = aliased(Job)
                count = (
                    select(func.count())
                    .select_from(running)
                    .where(running.team_id == candidate.team_id, running.status == JobState.RUNNING)
                    .scalar_subquery()
                )
                conditions.append(count < policy.max_jobs)
            locked = session.scalar(select(Job.id).where(*conditions[:2]).with_for_update(skip_locked=True))
            if locked is None:  # another scheduler is taking it, or took it
                return False
            claimed = session.execute(
                update(Job)
                .where(*conditions)
                .values(
                    status=JobState.RUNNING,
                    claimed_by=self.name,
                    heartbeat_at=now,
                    started_at=func.coalesce(Job.started_at, now),
                    version=Job.version + 1,
                )
            )
            session.commit()
            return claimed.rowcount == 1

    def launch(self, job_id: str) -> None:
        """Start the job's runner, telling it how many jobs share the cluster (``jobs_sharing``:
        it takes its share of the CPUs and GPUs, ``workers.search.resources``)."""
        folder = job_folder(self.settings, job_id)
        folder.mkdir(parents=True, exist_ok=True)
        own = len(self.processes) + 1
        with self.factory() as session:
            sharing = jobs_sharing(session, self.settings, own, self.max_jobs - own)
        env = {**os.environ, **self.settings.process_environment(), JOBS_SHARING_VARIABLE: str(sharing)}
        log_file = (folder / "runner.log").open("a")
        log_file.write(f"scheduler {self.name}: {sharing} job(s) share the cluster, this one included\n")
        log_file.flush()
        self.processes[job_id] = subprocess.Popen(
            [sys.executable, "-m", "api.runner", job_id],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its local Ray too
        )

    def reap(self) -> None:
        """A runner that exited without ending its job (killed, crashed) fails the job."""
        for job_id, process in list(self.processes.items()):
            if process.poll() is None:
                continue
            del self.processes[job_id]
            with self.factory() as session:
                job = session.get(Job, job_id)
                if job is not None and job.status == JobState.RUNNING and job.claimed_by == self.name:
                    job.status, job.finished_at = JobState.FAILED, utcnow()
                    log_tail = _tail(job_folder(self.settings, job_id) / "runner.log")
                    job.error = f"runner exited with code {process.returncode}: {log_tail}"
                    end_job(session, job)  # its job_ended event, in the same commit
                    session.commit()


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"
