"""A Tune result's objective values as one minimised vector, the form every Pareto tool takes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def minimised_vector(
    result: dict[str, Any], metrics: Sequence[str], modes: Sequence[str]
) -> tuple[float, ...] | None:
    """The values of ``metrics`` in ``result``, a "max" one negated; None when one is missing or NaN
    (a failed or infeasible trial)."""
    values = []
    for metric, mode in zip(metrics, modes, strict=True):
        value = result.get(metric)
        if value is None or value != value:
            return None
        values.append(float(value) if mode == "min" else -float(value))
    return tuple(values)
