"""The multi-node topology with real processes (scripts/cluster.sh): a Ray head without CPUs, a
worker node, an MLflow server on PostgreSQL and `scaler serve`; then faults: the worker node is
lost mid-trial, and the database drops every connection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.db.session import normalise_url
from tests.api.conftest import POSTGRES_URL, wait_for_job
from tests.api.test_job_lifecycle import _job

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("system")]
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cluster-test-token"


@dataclass
class Cluster:
    state: Path
    env: dict[str, str]

    def script(self, action: str) -> None:
        subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), action, str(self.state)],
                       check=True, timeout=300, cwd=ROOT)  # fmt: skip

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.env["SCALER_URL"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )

    def wait(self, job_id: str, until, timeout: float = 500) -> dict:
        with self.client() as client:
            return wait_for_job(client, job_id, until, timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    state = tmp_path_factory.mktemp("cluster")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    env = {**os.environ, "SCALER_TOKEN": TOKEN, "SCALER_CLUSTER_POSTGRES": base, "WORKER_CPUS": "2",
           "SCALER_DATA_ROOTS": json.dumps([str(state), "/tmp"])}  # fmt: skip
    up = subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "up", str(state)],
                        env=env, cwd=ROOT, timeout=300, capture_output=True, text=True)  # fmt: skip
    values = {}
    if (state / "cluster.env").is_file():
        values = dict(
            line.split("=", 1) for line in (state / "cluster.env").read_text().splitlines() if "=" in line
        )
    running = Cluster(state, values)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield running
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "cluster.sh"), "down", str(state)], cwd=ROOT, timeout=120
        )
        admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for url in (
                values.get("SCALER_DATABASE_URL", ""),
                values.get("SCALER_DATABASE_URL", "") + "_mlflow",
            ):
                if url:
                    connection.execute(
                        text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
                    )
        admin.dispose()


@pytest.fixture(scope="module")
def dataset(cluster: Cluster, synth_dataset: Path) -> str:
    target = cluster.state / "synth"
    shutil.copytree(synth_dataset, target)
    return str(target)


def test_a_lost_worker_node_and_dropped_database_connections_lose_nothing(cluster, dataset):
    """The head has no CPUs, so every trial runs on the worker node; MLflow is the server. One
    test on purpose: the cluster takes a minute to start (its MLflow server on PostgreSQL)."""
    from mlflow.tracking import MlflowClient

    with cluster.client() as client:
        job_id = client.post(
            "/v1/jobs", json={**_job(dataset, trials=1, epochs=3), "name": "node-loss"}
        ).json()["id"]
        deadline = time.monotonic() + 300
        victim = None
        while victim is None and time.monotonic() < deadline:
            trials = client.get(f"/v1/jobs/{job_id}/trials", params={"status": "running"}).json()["items"]
            victim = next((t["trial_id"] for t in trials if t["epochs"] >= 1), None)
            time.sleep(0.5)
        assert victim is not None, "no trial reported an epoch"
    time.sleep(1.0)  # into the next epoch, past the checkpoint's registration
    cluster.script("worker-down")
    time.sleep(5)
    cluster.script("worker-up")  # a node is back: the trial is retried there
    job = cluster.wait(job_id, lambda job: job["status"] in ("done", "failed"))
    assert job["status"] == "done", job["error"]
    with cluster.client() as client:
        trials = {
            t["trial_id"]: t
            for t in client.get(f"/v1/jobs/{job_id}/trials", params={"history": "true"}).json()["items"]
        }
    assert job["trials_finished"] == 1 and {t["status"] for t in trials.values()} == {"completed"}
    survivor = trials[victim]
    assert survivor["status"] == "completed" and [row["epoch"] for row in survivor["history"]] == [
        0.0,
        1.0,
        2.0,
    ]
    reports = next(
        (cluster.state / "data" / "jobs" / job_id / "ray" / "search").glob(f"*{victim}*/result.json")
    )
    iterations = [json.loads(line)["training_iteration"] for line in reports.read_text().splitlines()]
    assert iterations.count(1) == 1  # the retry resumed from a checkpoint: it never started over
    mlflow = MlflowClient(tracking_uri=cluster.env["SCALER_MLFLOW_TRACKING_URI"])
    children = mlflow.search_runs(
        [job["mlflow_experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{job['mlflow_run_id']}'"
    )
    assert len(children) == 1 and all(run.info.status == "FINISHED" for run in children)
    _the_scheduler_reconnects_when_the_database_drops_its_connections(cluster, dataset)


def _the_scheduler_reconnects_when_the_database_drops_its_connections(cluster: Cluster, dataset: str) -> None:
    database = cluster.env["SCALER_DATABASE_URL"].rsplit("/", 1)[1]
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        dropped = connection.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
            {"name": database},
        ).scalar_one()
    admin.dispose()
    assert dropped >= 1  # the API's and the scheduler's pooled connections
    with cluster.client() as client:  # the API's pool re-made its connections (pre-ping)
        job_id = client.post("/v1/jobs", json={**_job(dataset, trials=1), "name": "after-drop"}).json()["id"]
    job = cluster.wait(job_id, lambda job: job["status"] != "queued", timeout=120)  # claimed: reconnected
    assert job["status"] in ("running", "done"), job["error"]
