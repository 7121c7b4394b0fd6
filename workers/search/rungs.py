"""Successive halving's rung records, kept on disk so that they survive a resume.

Tune saves a searcher's state with the experiment (``Searcher.save_to_dir``) but never a
scheduler's: ``Tuner.restore`` brings back the scheduler pickled into ``tuner.pkl`` when the search
began, its rungs empty, and no one calls ``TrialScheduler.save``/``restore``. Resumed so, every
trial is the first at every rung and goes on. A ``PersistentRungs`` scheduler writes its records
to a file beside the experiment whenever they change, and reads them back when the search resumes
(``keep_rungs``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ray.tune.schedulers import TrialScheduler

RUNGS_FILE = "scheduler_rungs.json"


class PersistentRungs:
    """A scheduler whose rung records are written to ``rungs_file`` (once set) after every change."""

    rungs_file: Path | None = None

    def rung_state(self) -> dict[str, Any]:
        """The rung records as JSON-ready data."""
        raise NotImplementedError

    def load_rung_state(self, state: dict[str, Any]) -> None:
        """Take back records that ``rung_state`` gave."""
        raise NotImplementedError

    def keep_rungs_in(self, path: Path, resume: bool = False) -> None:
        """Write the records to ``path`` from now on; when resuming, first take back those there
        (a fresh search starts the file anew)."""
        self.rungs_file = Path(path)
        if resume and self.rungs_file.is_file():
            self.load_rung_state(json.loads(self.rungs_file.read_text()))
        self.save_rungs()

    def save_rungs(self) -> None:
        if self.rungs_file is None:
            return
        self.rungs_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.rungs_file.with_name(f"{self.rungs_file.name}.tmp")
        temporary.write_text(json.dumps(self.rung_state()))
        os.replace(temporary, self.rungs_file)  # a crash mid-write leaves the last whole record


def keep_rungs(scheduler: TrialScheduler, folder: Path, resume: bool) -> None:
    """Keep ``scheduler``'s rung records in ``folder`` (the search's output folder); a scheduler
    without rungs (``fifo``) is left alone."""
    if isinstance(scheduler, PersistentRungs):
        scheduler.keep_rungs_in(Path(folder) / RUNGS_FILE, resume=resume)
