"""docker-compose.yml and the Dockerfiles: Debian's docker-compose validates the file (no engine
needed) and the resolved topology is the documented one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"postgres", "mlflow", "ray-head", "ray-worker", "api"}


def _config(**env: str) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.skip("no docker-compose (scripts/install_system.sh installs Debian's)")
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("SCALER_", "POSTGRES_"))}
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env={**clean, **env}, cwd=ROOT, timeout=60,
    )  # fmt: skip


def test_compose_file_resolves_to_the_documented_topology():
    result = _config(SCALER_TOKEN="a-token")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == SERVICES
    assert all("healthcheck" in service for service in services.values())
    worker = services["ray-worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale ray-worker=N works
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"
    assert "--address=ray-head:6379" in worker["command"]
    api = services["api"]
    environment = api["environment"]
    assert (
        environment["SCALER_DATABASE_URL"].startswith("postgresql://scaler:")
        and "@postgres:5432/" in (environment["SCALER_DATABASE_URL"])
    )
    assert environment["SCALER_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert environment["SCALER_RAY_ADDRESS"] == "ray-head:6379" and environment["SCALER_TOKEN"] == "a-token"
    assert {name: dep["condition"] for name, dep in api["depends_on"].items()} == {
        "postgres": "service_healthy", "mlflow": "service_healthy", "ray-head": "service_healthy"
    }  # fmt: skip
    assert "--num-cpus=0" in services["ray-head"]["command"]  # trials run on workers only
    assert (
        "postgresql://" in services["mlflow"]["command"]
        and "--artifacts-destination" in (services["mlflow"]["command"])
    )
    shared = {
        volume.split(":")[0] if isinstance(volume, str) else volume["source"] for volume in api["volumes"]
    }
    for name in ("ray-head", "ray-worker"):
        volumes = services[name]["volumes"]
        assert shared & {v.split(":")[0] if isinstance(v, str) else v["source"] for v in volumes}


def test_compose_refuses_to_start_without_a_token():
    result = _config()
    assert result.returncode != 0 and "SCALER_TOKEN" in result.stderr


def test_dockerfiles_copy_what_exists_and_the_worker_has_cuda():
    for name in ("api", "worker", "mlflow"):
        text = (ROOT / "docker" / f"{name}.Dockerfile").read_text()
        for line in text.splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (ROOT / source).exists(), f"{name}.Dockerfile copies a missing {source}"
    assert (ROOT / "docker" / "worker.Dockerfile").read_text().startswith("# ") and "FROM nvidia/cuda:" in (
        ROOT / "docker" / "worker.Dockerfile"
    ).read_text()
    assert "/whl/cu" in (ROOT / "docker" / "worker.Dockerfile").read_text()  # the CUDA build of torch
