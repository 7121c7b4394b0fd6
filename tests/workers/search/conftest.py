"""Fixtures of the search tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A one-CPU local Ray for a module's tests (shut down after, unless it was already up)."""
    started = not ray.is_initialized()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    if started:
        ray.shutdown()
