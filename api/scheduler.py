"""The job scheduler: claims queued jobs (and running jobs whose runner went silent) and runs each
in its own process (``api.runner``). Safe with several schedulers: a claim is a row lock taken with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers) plus a conditional update."""

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

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Job, utcnow
from api.job_states import JobState
from api.runner import job_folder
from api.settings import Settings

log = logging.getLogger(__name__)


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
                if len(self.processes) < self.max_jobs:
                    job_id = self.claim()
                    if job_id is not None:
                        self.launch(job_id)
                        continue
            except Exception:  # a dropped database connection: log, wait, reconnect on the next turn
                log.exception("scheduler turn failed")
            self._stop.wait(self.settings.scheduler_poll_seconds)

    def claim(self) -> str | None:
        now = utcnow()
        stale = dt.timedelta(seconds=self.settings.scheduler_stale_seconds)
        with self.factory() as session:
            candidate = session.scalar(
                select(Job)
                .where(
                    or_(
                        Job.status == JobState.QUEUED,
                        (Job.status == JobState.RUNNING) & (Job.heartbeat_at < now - stale),
                    )
                )
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
                    Job.status == candidate.status,
                    Job.claimed_by.is_(None)
                    if candidate.claimed_by is None
                    else Job.claimed_by == candidate.claimed_by,
                )
                .values(
                    status=JobState.RUNNING,
                    claimed_by=self.name,
                    heartbeat_at=now,
                    started_at=candidate.started_at or now,
                    version=Job.version + 1,
                )
            )
            session.commit()
            return candidate.id if claimed.rowcount == 1 else None

    def launch(self, job_id: str) -> None:
        folder = job_folder(self.settings, job_id)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.process_environment()}
        log_file = (folder / "runner.log").open("a")
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
                    session.commit()


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"
