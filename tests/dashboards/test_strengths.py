"""The job page's augmentation strengths plot, in the system Chromium: one trace per strength the
job searched, its values in the trials' finishing order, a strength stuck at 0 named; no plot for
a job that searched none."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter
from search_spaces import JobSpec, load_job_spec, parse_job_spec
from search_spaces.hyp_meta import AUGMENTATION_KEYS
from search_spaces.mutation import mutate
from tests.api.conftest import TOKEN, Server, make_settings, start_server
from tests.dashboards.conftest import _job, _trial

TRIALS = 6
STUCK = "mixup"  # frozen (gain 0) in the fixture job: its line never leaves 0


@dataclass
class StrengthJobs:
    server: Server
    augmented: str
    plain: str
    points: list[dict[str, object]]


def _evolved_points(spec: JobSpec) -> list[dict[str, object]]:
    """A line of descent from the default point, as evolution proposes it."""
    parameters = spec.space.parameters()
    rng = np.random.default_rng(5)
    points = [spec.space.default_point()]
    while len(points) < TRIALS:
        points.append(mutate(points[-1], parameters, rng))
    return points


@pytest.fixture(scope="module")
def strength_jobs(tmp_path_factory: pytest.TempPathFactory, synth_dataset: Path) -> Iterator[StrengthJobs]:
    data_dir = tmp_path_factory.mktemp("strengths")
    dataset = data_dir / "synth"
    shutil.copytree(synth_dataset, dataset)
    server = start_server(make_settings(data_dir, None))
    document = load_job_spec("tiny-cpu-augment", dataset=str(dataset)).model_dump(mode="json")
    document["space"]["hyperparameters"]["search"][STUCK] = {"gain": 0}
    augmented_spec = parse_job_spec({**document, "name": "augment"})
    plain_hyperparameters = {**document["space"]["hyperparameters"], "augmentation": False, "search": ["lr0"]}
    plain_spec = parse_job_spec(
        {
            **document,
            "name": "plain",
            "space": {**document["space"], "hyperparameters": plain_hyperparameters},
        }
    )
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    augmented, plain = _job(factory, augmented_spec, "done"), _job(factory, plain_spec, "done")
    points = _evolved_points(augmented_spec)
    writer = DatabaseWriter(factory, augmented, augmented_spec)
    for index, point in enumerate(points):  # finished in this order (finished_at rises)
        writer.on_trial_complete(_trial(augmented_spec, f"a{index}", 0.1, 10.0, index, point=point))
    plain_writer = DatabaseWriter(factory, plain, plain_spec)
    plain_writer.on_trial_complete(_trial(plain_spec, "p0", 0.1, 10.0, 0))
    try:
        yield StrengthJobs(server, augmented, plain, points)
    finally:
        engine.dispose()
        server.stop()


@pytest.fixture
def strength_page(browser, strength_jobs: StrengthJobs) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems
    page.goto(f"{strength_jobs.server.url}/dashboard/#token={TOKEN}")
    yield page
    context.close()


def test_the_keys_come_from_the_meta_module(strength_jobs):
    answer = httpx.get(f"{strength_jobs.server.url}/dashboard/augmentation.json")
    assert answer.status_code == 200 and answer.json() == {"keys": list(AUGMENTATION_KEYS)}


def test_one_trace_per_strength_across_the_trials(strength_page, strength_jobs):
    page = strength_page
    page.goto(f"{strength_jobs.server.url}/dashboard/jobs/{strength_jobs.augmented}")
    page.wait_for_function("(document.getElementById('strengths-plot')?.data || []).length > 0")
    traces = page.evaluate(
        "document.getElementById('strengths-plot').data.map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    assert sorted(trace["name"] for trace in traces) == sorted(AUGMENTATION_KEYS)
    assert len({(trace["name"]) for trace in traces}) == len(traces)
    for trace in traces:
        assert trace["x"] == list(range(1, TRIALS + 1))  # in the order the trials finished
        assert trace["y"] == pytest.approx([point[f"hyp/{trace['name']}"] for point in strength_jobs.points])
    assert page.is_visible("#strengths-card")
    axes = page.evaluate(
        "Object.keys(document.getElementById('strengths-plot').layout).filter(k => /^yaxis/.test(k))"
    )
    assert len(axes) == len(AUGMENTATION_KEYS)  # each strength on its own axis
    stuck = [
        key for key in AUGMENTATION_KEYS if all(point[f"hyp/{key}"] == 0 for point in strength_jobs.points)
    ]
    assert STUCK in stuck and len(stuck) < len(AUGMENTATION_KEYS) // 2
    caption = page.inner_text("#strengths-caption")
    assert f"{len(AUGMENTATION_KEYS)} strengths searched" in caption
    assert f"never off 0: {', '.join(stuck)}" in caption
    titles = page.evaluate("document.getElementById('strengths-plot').layout.annotations.map(a => a.text)")
    assert sorted(title for title in titles if "stuck at 0" in title) == sorted(
        f"<b>{key}</b> · stuck at 0" for key in stuck
    )
    folder = os.environ.get("SCALER_SCREENSHOTS")
    if folder:  # for the docs, as test_pages.py's screenshots
        page.locator("#strengths-card").screenshot(path=Path(folder) / "dashboard-strengths.png")
    assert page.problems == []


def test_no_plot_for_a_job_that_searched_no_strength(strength_page, strength_jobs):
    page = strength_page
    page.goto(f"{strength_jobs.server.url}/dashboard/jobs/{strength_jobs.plain}")
    page.wait_for_function("(document.getElementById('pareto-plot').data || []).length > 0")
    page.wait_for_selector("#strengths-card", state="attached")
    assert not page.is_visible("#strengths-card")
    assert page.problems == []
