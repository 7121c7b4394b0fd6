"""Warm start reuses an earlier job's results, through the real server, scheduler, runner and Ray:
an earlier job on the same dataset and latency device contributes its measured trials to the new
job as results (``origin: warm_start``, their source named), on its front at once and told to its
searcher, and none of them is trained again; the new job trains only its own budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from api.db.models import Job, Team
from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter
from search_spaces import JobSpec, parse_job_spec
from tests.api.test_job_lifecycle import _dataset, _job, _scheduled_server, _wait
from workers.search.outcome import SearchTrial

pytestmark = pytest.mark.slow


def _earlier_job(server, dataset: str) -> tuple[str, JobSpec]:
    """A done job of team a, as its runner recorded it: two measured trials far better than any a
    one-epoch trial reaches (on its front), and a failed one."""
    spec = parse_job_spec({**_job(dataset, trials=3), "dataset": str(Path(dataset).resolve())})
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    with factory() as session:
        team = session.scalar(select(Team).where(Team.name == "team-a"))
        session.add(
            Job(
                id="e" * 32, team_id=team.id, name="earlier", status="done", spec=spec.model_dump(mode="json")
            )
        )
        session.commit()
    writer = DatabaseWriter(factory, "e" * 32, spec)
    base = spec.space.default_point()
    for trial_id, lr0, ap, latency in (("fast", 0.0111, 0.8, 0.001), ("accurate", 0.0222, 0.9, 0.002)):
        point = {**base, "hyp/lr0": lr0}
        writer.on_trial_complete(
            SearchTrial(
                trial_id=trial_id, status="completed", point=point, epochs=1, ap=ap, latency_ms=latency
            )
        )
    writer.on_trial_complete(SearchTrial(trial_id="broken", status="failed", point=base, error="x"))
    engine.dispose()
    return "e" * 32, spec


def test_warm_start_reuses_the_earlier_jobs_results_without_training_them(tmp_path, synth_dataset):
    with _scheduled_server(tmp_path, None) as server, server.client() as client:
        dataset = _dataset(tmp_path, synth_dataset)
        earlier, _ = _earlier_job(server, dataset)
        body = {**_job(dataset, trials=1), "warm_start_from": [earlier]}
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        job = _wait(server, job_id, lambda job: job["status"] in ("done", "failed"))
        assert job["status"] == "done", job["error"]
        trials = client.get(f"/v1/jobs/{job_id}/trials").json()["items"]
        reused = {trial["source"]: trial for trial in trials if trial["origin"] == "warm_start"}
        assert set(reused) == {f"job:{earlier}/fast", f"job:{earlier}/accurate"}  # measured ones only
        assert reused[f"job:{earlier}/accurate"]["ap"] == 0.9 and reused[f"job:{earlier}/fast"]["epochs"] == 1
        trained = [trial for trial in trials if trial["origin"] == "searched"]
        assert len(trained) == 1 and trained[0]["point"]["hyp/lr0"] not in (0.0111, 0.0222)
        assert job["trials_finished"] == 1 and job["epochs_used"] == 1  # its own budget alone
        fast, accurate = reused[f"job:{earlier}/fast"], reused[f"job:{earlier}/accurate"]
        assert job["front"] == [fast["trial_id"], accurate["trial_id"]]
