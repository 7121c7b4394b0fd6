"""Why a candidate failed: its own exception types, told apart from bugs.

A ``CandidateError`` is the candidate's fault — it ran out of memory, its loss went non-finite,
its data cannot be read, its point or hyperparameters do not make a network, it breaks a
constraint. The trial records it ("failed", or "infeasible") and the search goes on, judging the
network bad. Any other exception is a bug in Scaler: it propagates, Tune retries the trial
(``budget.max_failures_per_trial``) and then records it "errored" with its traceback, and no
searcher counts it as a bad network."""

from __future__ import annotations

import torch

from scaler import SpecError
from workers.data.dataset import DatasetError
from workers.training.hyp import HypError

OUT_OF_MEMORY_MESSAGES = ("can't allocate memory", "out of memory")


class CandidateError(Exception):
    """The candidate failed; ``str(error)`` is the reason recorded on the trial."""


class OutOfMemoryCandidateError(CandidateError):
    """The candidate does not fit in the device's (or the host's) memory."""


class NonFiniteLossError(CandidateError):
    """Training diverged: the loss is NaN or infinite."""


class BadDataError(CandidateError):
    """The candidate's data cannot be used (unreadable images, too few labels to fit anchors)."""


class InvalidCandidateError(CandidateError):
    """Its point, model or hyperparameters do not make a trainable network."""


class InfeasibleCandidateError(CandidateError):
    """It breaks a constraint of the job; ``violation``: by how much (``constraint_violation``)."""

    def __init__(self, reason: str, violation: float) -> None:
        super().__init__(reason)
        self.violation = violation


def candidate_error(error: BaseException) -> CandidateError | None:
    """``error`` as the candidate's failure, or None when it is a bug. Errors of the layers below
    (a spec the builder refuses, hyperparameters out of range, a dataset problem, PyTorch running
    out of memory) are the candidate's; a ``RuntimeError`` only when it says it ran out of memory."""
    if isinstance(error, CandidateError):
        return error
    reason = f"{type(error).__name__}: {error}"
    if isinstance(error, DatasetError):
        return BadDataError(reason)
    if isinstance(error, SpecError | HypError):
        return InvalidCandidateError(reason)
    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return OutOfMemoryCandidateError(reason)
    if isinstance(error, RuntimeError) and any(
        message in str(error).lower() for message in OUT_OF_MEMORY_MESSAGES
    ):
        return OutOfMemoryCandidateError(reason)
    return None


def candidate_failure(error: BaseException) -> str | None:
    """The reason a trial records for ``error`` ("TypeName: message"), or None for a bug."""
    return f"{type(error).__name__}: {error}" if candidate_error(error) is not None else None
