"""When a whole search stops early: a budget in trial-epochs (the search ends once its trials
have trained this many epochs in total; running trials are stopped there), or an outside request
(e.g. a job cancelled through the API), polled at most once a second.

The two end differently. The budget ends the search for good: ``stop_all`` returns True, and Tune
stops every trial (TERMINATED, as if finished) and marks the searcher finished. A request only
interrupts it, the way Ctrl+C does (Tune's documented manual stop, see ``interrupt_tune_run``): the
run ends at once, saving its experiment state with the cut trials still unfinished (running or
pending) and the searcher not finished, so that ``Tuner.restore(resume_unfinished=True)`` later
goes on with the rest of the budget, each cut trial from its last epoch's checkpoint. Ending a
request through ``stop_all`` instead would leave nothing to resume: a restore skips terminated
trials and a finished searcher suggests no more."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ray.tune.stopper import Stopper

from workers.results import TrialReport, TrialStatus

LOGGER = logging.getLogger(__name__)

# the module whose ``tune.run`` installs the SIGUSR1 (and SIGINT) handler that interrupts a run
TUNE_RUN_MODULE = "ray.tune.tune"


def interrupt_tune_run() -> bool:
    """Interrupt the Tune run of this process as a SIGINT would: Tune leaves its loop after the
    current step, saves the experiment state one last time and stops the trials' actors without
    ending the trials (``ray.tune.tune._setup_signal_catching``). Tune installs its handler for
    SIGUSR1 (always; SIGINT's may be turned off) when ``fit`` runs on the main thread, which is
    where a stopper is called from. Returns False, sending nothing, where no such handler is in
    place (a run on another thread: its handler would be a past run's, or the default that ends
    the process)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    handler = signal.getsignal(signal.SIGUSR1)
    if not callable(handler) or getattr(handler, "__module__", None) != TUNE_RUN_MODULE:
        return False
    signal.raise_signal(signal.SIGUSR1)  # the handler runs here, on this (the main) thread
    return True


# per search folder, the stopper of the run this process drives (``SearchStopper.__reduce__``)
_LIVE: dict[str, SearchStopper] = {}


def _live_stopper(key: str | None, max_trial_epochs: int | None) -> SearchStopper:
    """What a pickled stopper becomes when Tune restores its experiment: the live stopper of the
    same search, else one with the pickled budget and no request to poll."""
    return (_LIVE.get(key) if key is not None else None) or SearchStopper(max_trial_epochs)


class SearchStopper(Stopper):
    """``interrupt``: how a request interrupts the run (True once asked; False when it cannot).
    ``key`` (the search's folder): Tune pickles its controller's stopper into the experiment state
    and puts that copy back when the search is restored, in place of the one the resumed run was
    given; a keyed stopper unpickles as the live stopper of its search instead (the resumed run's,
    with its budget — raised when a job was extended — and its request to poll)."""

    def __init__(
        self,
        max_trial_epochs: int | None = None,
        requested: Callable[[], bool] | None = None,
        interrupt: Callable[[], bool] = interrupt_tune_run,
        key: str | None = None,
    ) -> None:
        self.max_trial_epochs = max_trial_epochs
        self.requested = requested
        self.interrupt = interrupt
        self.key = key
        self.spent = 0
        self._checked_at = 0.0
        self._stop = False
        self._interrupted = False
        if key is not None:
            _LIVE[key] = self

    def __reduce__(self) -> tuple[Any, tuple[str | None, int | None]]:
        return (_live_stopper, (self.key, self.max_trial_epochs))

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if TrialReport.from_metrics(result).status is TrialStatus.RUNNING:
            self.spent += 1
        return False

    def stop_all(self) -> bool:
        """True only to end the search for good (the budget is spent, or a request could not
        interrupt the run); a request interrupts the run, leaving it resumable (module doc)."""
        if self.max_trial_epochs is not None and self.spent >= self.max_trial_epochs:
            return True
        if self._stop:
            return not self._interrupted
        if self.requested is not None and time.monotonic() - self._checked_at >= 1.0:
            self._checked_at = time.monotonic()
            self._stop = bool(self.requested())
            if self._stop:
                self._interrupted = self.interrupt()
                if not self._interrupted:
                    LOGGER.warning("the search could not be interrupted: it ends, and will not resume")
        return self._stop and not self._interrupted

    @property
    def asked_to_stop(self) -> bool:
        """Whether a request stopped this run (a spent budget is a search's normal end)."""
        return self._stop

    def __getstate__(self) -> dict[str, Any]:
        """Tune saves its stopper with the experiment: a request belongs to the run that saw it."""
        return {**self.__dict__, "requested": None, "_stop": False, "_interrupted": False}
