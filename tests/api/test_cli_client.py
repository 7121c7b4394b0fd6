"""The CLI client against a real server: submit, jobs, cancel, errors; warm-start seeding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN, make_settings, start_server


@pytest.fixture(scope="module")
def live(tmp_path_factory, synth_dataset):
    data_dir = tmp_path_factory.mktemp("cli-api")
    shutil.copytree(synth_dataset, data_dir / "synth")
    server = start_server(make_settings(data_dir, None))
    yield server, str(data_dir / "synth")
    server.stop()


def _scaler(server, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCALER_URL": server.url}
    env.pop("SCALER_TOKEN", None)
    if token:
        env["SCALER_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_submit_list_and_cancel_from_the_command_line(live, tmp_path):
    server, dataset = live
    spec = tmp_path / "job.yaml"
    spec.write_text("name: from-cli\nbudget: {max_trials: 2, epochs_per_trial: 1}\n")
    submitted = _scaler(server, "submit", str(spec), "--data", dataset, "--json")
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    preset = _scaler(server, "submit", "tiny-cpu", "--data", dataset)
    assert preset.returncode == 0 and len(preset.stdout.strip()) == 32
    listed = json.loads(_scaler(server, "jobs", "--json", "--status", "queued").stdout)
    assert job_id in {item["id"] for item in listed["items"]}
    table = _scaler(server, "jobs")
    assert job_id in table.stdout and "from-cli" in table.stdout
    cancelled = _scaler(server, "cancel", job_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    watched = _scaler(server, "watch", job_id, "--json")
    assert watched.returncode == 0, watched.stderr
    final = json.loads(watched.stdout)
    assert final["status"] == "cancelled" and final["pareto"]["front"] == []
    followed = _scaler(server, "watch", job_id)
    assert followed.returncode == 0 and followed.stderr.startswith("cancelled")
    usage = json.loads(_scaler(server, "usage", "--json").stdout)
    assert usage["team"] == "team-a" and usage["jobs"] >= 2 and usage["gpu_hours"] == 0.0
    assert "GPU-hours 0.000" in _scaler(server, "usage").stdout


def test_client_errors_are_one_line_with_the_field(live, tmp_path):
    server, dataset = live
    unknown = _scaler(server, "submit", "no-such-preset", "--data", dataset)
    assert unknown.returncode == 1 and "HTTP 422: preset:" in unknown.stderr
    outside = _scaler(server, "submit", "tiny-cpu", "--data", "/etc")
    assert outside.returncode == 1 and "HTTP 403: dataset:" in outside.stderr
    anonymous = _scaler(server, "jobs", token=None)
    assert anonymous.returncode == 1 and "HTTP 401" in anonymous.stderr
    missing = _scaler(server, "cancel", "0" * 32)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


def test_warm_start_from_a_job_measured_otherwise_retrains_its_front(live):
    """An earlier job timed with other device settings: its results do not stand for this job's
    (tests/api/test_warm_start.py: those that do are reused), so its front's points are trained again."""
    from sqlalchemy import select

    from api.db.models import Job, TrialRecord
    from api.db.session import make_engine, make_session_factory
    from api.known_results import store_warm_start_results, warm_start_points
    from search_spaces import load_job_spec

    server, dataset = live
    spec = load_job_spec("tiny-cpu", dataset=dataset)
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    with server.client() as client:
        earlier = client.post("/v1/jobs", json={"preset": "tiny-cpu", "dataset": dataset}).json()["id"]
    good = {**spec.space.default_point(), "arch/input_size": 224}
    better = {**spec.space.default_point(), "arch/input_size": 256}
    with factory() as session:
        session.add_all(
            [
                TrialRecord(job_id=earlier, trial_id="a", status="completed", point=good, ap=0.2, history=[]),
                TrialRecord(
                    job_id=earlier, trial_id="b", status="completed", point=better, ap=0.3, history=[]
                ),
                TrialRecord(job_id=earlier, trial_id="c", status="completed", point=good, ap=0.1, history=[]),
            ]
        )
        session.get(Job, earlier).front = ["a", "b"]
        session.commit()
        assert len(session.scalars(select(TrialRecord).where(TrialRecord.job_id == earlier)).all()) == 3
    objectives = spec.objectives.model_dump()
    objectives["latency"]["threads"] = 1  # the earlier job timed on every thread
    seeded = spec.with_changes(warm_start_from=(earlier,), objectives=objectives)
    assert warm_start_points(factory, seeded) == [better, good]  # the front, best AP first
    with factory() as session:
        assert store_warm_start_results(session, "no-job", seeded) == 0  # no result reused
    assert warm_start_points(factory, spec.with_changes(warm_start_from=(earlier,))) == []  # reused instead
    with server.client() as client:
        response = client.post(
            "/v1/jobs", json={"preset": "tiny-cpu", "dataset": dataset, "warm_start_from": [earlier]}
        )
        assert response.status_code == 201
    engine.dispose()


def test_import_posts_a_results_file_or_an_export(live, tmp_path):
    """``scaler import``: a YAML file of results, or a Scaler export's metrics (here a zip holding
    only metrics.json, as another server's export of a tiny-cpu trial would), join the job."""
    import zipfile

    from search_spaces import load_job_spec

    server, dataset = live
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={"preset": "tiny-cpu", "dataset": dataset}).json()["id"]
    point = {"input_size": 128, "depth_multiple": 0.33, "width_multiple": 0.25, "activation": "leaky"}
    results = tmp_path / "results.yaml"
    results.write_text(
        "trials:\n"
        f"  - {{point: {json.dumps(point)}, ap: 0.2, latency_ms: 3.5, device: cpu, source: laptop}}\n"
        f"  - {{point: {json.dumps(point)}, hyperparameters: {{lr0: 0.002}}, ap: 0.1, latency_ms: 2.5,"
        " device: cpu}\n"
    )
    posted = _scaler(server, "import", job_id, str(results))
    assert posted.returncode == 0, posted.stderr
    assert posted.stdout.count("imported  imported-") == 2 and "front     2 trials" in posted.stdout

    flat = {**load_job_spec("tiny-cpu").space.default_point(), "arch/width_multiple": 0.375, "hyp/lr0": 0.003}
    metrics = {"trial_id": "t7", "point": flat, "ap": 0.3, "ap50": 0.5, "latency_ms": 9.0,
               "latency_stats": {"device": "cpu", "target": None}, "params": 12345}  # fmt: skip
    with zipfile.ZipFile(tmp_path / "best.zip", "w") as archive:
        archive.writestr("metrics.json", json.dumps(metrics))
    exported = _scaler(server, "import", job_id, str(tmp_path / "best.zip"), "--json")
    assert exported.returncode == 0, exported.stderr
    (trial_id,) = json.loads(exported.stdout)["trial_ids"]
    with server.client() as client:
        trial = client.get(f"/v1/jobs/{job_id}/trials/{trial_id}").json()
    assert trial["origin"] == "imported" and trial["source"] == "Scaler export best.zip (trial t7)"
    assert trial["point"]["arch/width_multiple"] == 0.375 and trial["point"]["hyp/lr0"] == 0.003
    assert trial["ap50"] == 0.5 and trial["params"] == 12345

    results.write_text(f"[{{point: {json.dumps(point)}, ap: 0.2, latency_ms: 3.5, device: cuda}}]")
    refused = _scaler(server, "import", job_id, str(results))
    assert refused.returncode == 1 and "HTTP 422: trials[0].device:" in refused.stderr


def test_db_upgrade_command(tmp_path):
    env = {**os.environ, "SCALER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "db", "upgrade"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "latest schema" in result.stdout and Path(tmp_path / "x.db").is_file()
