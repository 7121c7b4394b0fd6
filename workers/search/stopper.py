"""When a whole search stops early: a budget in trial-epochs (the search ends once its trials
have trained this many epochs in total; running trials are stopped there), or an outside request
(e.g. a job cancelled through the API), polled at most once a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray.tune.stopper import Stopper


class SearchStopper(Stopper):
    def __init__(
        self, max_trial_epochs: int | None = None, requested: Callable[[], bool] | None = None
    ) -> None:
        self.max_trial_epochs = max_trial_epochs
        self.requested = requested
        self.spent = 0
        self._checked_at = 0.0
        self._stop = False

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if result.get("status") == "running":
            self.spent += 1
        return False

    def stop_all(self) -> bool:
        if self.max_trial_epochs is not None and self.spent >= self.max_trial_epochs:
            return True
        if self.requested is not None and time.monotonic() - self._checked_at >= 1.0:
            self._checked_at = time.monotonic()
            self._stop = self._stop or bool(self.requested())
        return self._stop

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "requested": None}
