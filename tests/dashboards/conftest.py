"""A real server holding a finished job and a running one (trials written by the runner's own
DatabaseWriter), and the system Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from api.db.models import Job
from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter
from search_spaces import JobSpec, load_job_spec
from search_spaces.mutation import sample_point
from tests.api.conftest import Server, make_settings, start_server
from workers.search.outcome import SCREENED_FILE, SearchTrial

CHROMIUM = Path("/usr/bin/chromium")
# per level, w,h pairs in input pixels, as a trial records the anchors fitted to the data
FITTED_ANCHORS = (
    "[[2.7, 2.7, 3.8, 3.5, 4.9, 4.9, 7.0, 7.0], [9.5, 11.4, 13.4, 12.0, 14.1, 15.8, 15.9, 20.7],"
    " [21.1, 21.4, 26.6, 21.8, 20.6, 31.4, 29.0, 34.2]]"
)


@dataclass
class Jobs:
    server: Server
    finished: str
    running: str
    spec: JobSpec
    measured: int
    infeasible: int
    writer: DatabaseWriter

    def add_trial(self, trial_id: str, ap: float, latency_ms: float) -> None:
        """A newly finished trial of the running job, as the runner writes it."""
        self.writer.on_trial_complete(_trial(self.spec, trial_id, ap, latency_ms, seed=len(trial_id)))


def _trial(
    spec: JobSpec, trial_id: str, ap: float, latency_ms: float | None, seed: int, **changes
) -> SearchTrial:
    point = sample_point(spec.space.parameters(), np.random.default_rng(seed))
    history = tuple(
        {"epoch": float(e), "ap": ap * (e + 1) / 4, "ap50": ap * 1.5, "loss_total": 1 / (e + 1)}
        for e in range(4)
    )
    values = dict(trial_id=trial_id, status="completed", point=point, epochs=4, ap=ap, ap50=ap * 1.5,
                  fitness=ap, latency_ms=latency_ms, latency_nms_ms=latency_ms, params=1_000_000 + seed,
                  gflops=0.5, image_size=int(point["arch/input_size"]), seconds=30.0,
                  finished_at=1.0e9 + seed, history=history, mlflow_run_id=uuid.uuid4().hex)  # fmt: skip
    return SearchTrial(**{**values, **changes})


def _job(factory, spec: JobSpec, status: str) -> str:
    from api.auth import team_for_token
    from tests.api.conftest import TOKEN

    with factory() as session:
        team = team_for_token(session, TOKEN)
        job = Job(id=uuid.uuid4().hex, team_id=team.id, name=f"{spec.name}-{status}", status=status,
                  spec=spec.model_dump(mode="json"), created_by="tester", trials_total=spec.budget.max_trials,
                  front=[], hypervolume_history=[], mlflow_experiment_id="1")  # fmt: skip
        session.add(job)
        session.commit()
        return job.id


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory, synth_dataset: Path) -> Iterator[Jobs]:
    data_dir = tmp_path_factory.mktemp("dashboards")
    dataset = data_dir / "synth"
    shutil.copytree(synth_dataset, dataset)
    server = start_server(make_settings(data_dir, None, mlflow_ui_url="http://mlflow.example:5000"))
    spec = load_job_spec("tiny-cpu", dataset=str(dataset)).with_changes(name="dash")
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    finished = _job(factory, spec, "done")
    writer = DatabaseWriter(factory, finished, spec)
    # the search screened out 12 sampled points with the device's latency model before training
    folder = data_dir / "jobs" / finished
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SCREENED_FILE).write_text('{"point": {}}\n' * 12)
    rng = np.random.default_rng(3)
    for index in range(6):
        ap, latency_ms = float(rng.uniform(0.05, 0.4)), float(rng.uniform(5, 40))
        spread = 1.6 if index == 1 else 1.05  # f1's latency was timed on a busy machine
        parent = "f0" if index == 1 else None  # f1 started from f0's weights, 81.25 % of its values
        started = {"initialised_from": "trial:f0", "inherited_share": 0.8125} if index == 1 else {}
        # the device's latency model predicted f1 within 5 % and f2 50 % too slow
        off = {1: 1.05, 2: 1.5}.get(index)
        predicted = {"latency_predicted_ms": latency_ms * off} if off else {}
        fitted = {"anchors": FITTED_ANCHORS, "anchor_recall_before": 0.71, "anchor_recall_after": 0.99}
        anchored = fitted if index == 3 else {}  # f3's anchors were fitted to the data
        writer.on_trial_complete(
            _trial(
                spec,
                f"f{index}",
                ap,
                latency_ms,
                index,
                latency_spread=spread,
                inherited_from=parent,
                **started,
                **predicted,
                **anchored,
            )
        )
    writer.on_trial_complete(
        _trial(
            spec, "f6", 0.0, 80.0, 6, status="infeasible", epochs=0, history=(), error="latency 80 ms > 50 ms"
        )
    )
    writer.on_trial_complete(
        _trial(spec, "f7", 0.0, None, 7, status="failed", epochs=1, error="loss is not finite")
    )
    running = _job(factory, spec, "running")
    live = DatabaseWriter(factory, running, spec)
    live.on_trial_complete(_trial(spec, "r0", 0.2, 10.0, 10))
    try:
        yield Jobs(server, finished, running, spec, measured=6, infeasible=1, writer=live)
    finally:
        engine.dispose()
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip("no /usr/bin/chromium (scripts/test.sh installs it with apt)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, jobs: Jobs) -> Iterator[object]:
    """A page holding the token; console errors and failed requests are collected in ``page.problems``."""
    from tests.api.conftest import TOKEN

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "requestfailed",
        lambda request: None if "ERR_ABORTED" in str(request.failure) else problems.append(request.url),
    )
    page.problems = problems
    page.goto(f"{jobs.server.url}/dashboard/#token={TOKEN}")
    yield page
    context.close()
