"""``training.initial_weights`` at the door and in the runner, over real HTTP on SQLite and
PostgreSQL: weights a job names are inside the data roots, read through the safe loader (a malicious
pickle never runs), of the family the job searches; a ``job:`` reference names a trained trial of
the caller's own team, and the runner exports it once into the new job's folder."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from api.db.models import Job, TrialRecord
from api.db.session import make_engine, make_session_factory
from api.initial_weights import WeightsReferenceError, export_referenced_weights
from api.runner import DatabaseWriter, _initial_weights, job_folder
from scaler import Detector, ScalingPoint, build_model, dump_model_yaml
from scaler.weight_source import read_weight_source
from search_spaces import JobSpec, parse_job_spec
from search_spaces.mutation import sample_point
from tests.api.conftest import (
    OTHER_TOKEN,
    TINY,
    TOKEN,
    Server,
    fresh_postgres_database,
    make_settings,
    start_server,
    wait_for_job,
)
from tests.malicious_pickles import Call, writes
from workers.search.outcome import SearchTrial

FIELD = "training.initial_weights"


@dataclass
class Earlier:
    """Jobs that ran before, as the runner's DatabaseWriter recorded them."""

    team_a: str  # measured trials t0 (AP 0.1), t1 (AP 0.3), t2 (no checkpoint), t3 (failed)
    team_b: str  # another team's job with a trained trial
    no_front: str  # a job of team a whose only trial failed
    checkpoints: dict[str, Path]


@dataclass
class Place:
    server: Server
    dataset: str
    weights: Path  # the data root's folder of weights files
    earlier: Earlier


def export_folder(folder: Path, family: str = "large") -> Path:
    """A tiny network's export (model.yaml beside weights.pt), as workers.export writes one."""
    model = build_model(
        ScalingPoint(family=family, depth_multiple=0.33, width_multiple=0.125, input_size=64, num_classes=3)
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yaml").write_text(dump_model_yaml(model.spec))
    torch.save(model.state_dict(), folder / "weights.pt")
    return folder


def zipped(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        for member in ("model.yaml", "weights.pt"):
            bundle.write(folder / member, member)
    return archive


def trained_checkpoint(spec: JobSpec, trial: SearchTrial, path: Path) -> Path:
    """A training checkpoint of the network ``trial`` of ``spec`` builds, with recognisable weights."""
    from workers.search.points import trial_config_of
    from workers.trial import build_network

    model = Detector(build_network(trial_config_of(spec, trial), 3))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.25)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "epoch": 1}, path)
    return path


def _stored_job(factory, token: str, spec: JobSpec, trials: list[SearchTrial]) -> str:
    from api.auth import team_for_token

    with factory() as session:
        team = team_for_token(session, token)
        job = Job(id=uuid.uuid4().hex, team_id=team.id, name="earlier", status="done",
                  spec=spec.model_dump(mode="json"), created_by="tester", trials_total=len(trials),
                  front=[], hypervolume_history=[])  # fmt: skip
        session.add(job)
        session.commit()
        job_id = job.id
    writer = DatabaseWriter(factory, job_id, spec)
    for trial in trials:
        writer.on_trial_complete(trial)
    return job_id


def _earlier_jobs(server: Server, dataset: str, folder: Path) -> Earlier:
    spec = parse_job_spec({**TINY, "dataset": dataset})
    point = sample_point(spec.space.parameters(), np.random.default_rng(0))

    def trial(trial_id: str, ap: float, latency_ms: float, **changes: object) -> SearchTrial:
        values = dict(trial_id=trial_id, status="completed", point=point, epochs=1, ap=ap, ap50=ap,
                      fitness=ap, latency_ms=latency_ms, latency_nms_ms=latency_ms, seconds=1.0,
                      initialised_from="supernet", inherited_share=0.5)  # fmt: skip
        return SearchTrial(**{**values, **changes})

    checkpoints: dict[str, Path] = {}
    for trial_id in ("t0", "t1", "b0"):
        checkpoints[trial_id] = trained_checkpoint(spec, trial(trial_id, 0, 0), folder / f"{trial_id}.pt")
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    try:
        team_a = _stored_job(
            factory,
            TOKEN,
            spec,
            [
                trial("t0", 0.1, 5.0, checkpoint=str(checkpoints["t0"])),  # the faster, on the front
                trial("t1", 0.3, 9.0, checkpoint=str(checkpoints["t1"])),  # the more accurate
                trial("t2", 0.05, 20.0),  # measured, but its weights were not kept
                trial(
                    "t3",
                    0.0,
                    1.0,
                    status="failed",
                    error="loss is not finite",
                    checkpoint=str(checkpoints["t0"]),
                ),
            ],
        )
        team_b = _stored_job(
            factory, OTHER_TOKEN, spec, [trial("b0", 0.2, 5.0, checkpoint=str(checkpoints["b0"]))]
        )
        no_front = _stored_job(factory, TOKEN, spec, [trial("f0", 0.0, 1.0, status="failed", error="broken")])
    finally:
        engine.dispose()
    return Earlier(team_a, team_b, no_front, checkpoints)


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def place(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, synth_dataset: Path
) -> Iterator[Place]:
    """A server whose only data root is its data dir, holding a dataset, weights files and jobs
    that ran before."""
    data_dir = tmp_path_factory.mktemp(f"weights-{request.param}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if request.param == "postgresql" else None
        server = start_server(make_settings(data_dir, url, data_roots=[data_dir]))
        stack.callback(server.stop)
        dataset = data_dir / "synth"
        shutil.copytree(synth_dataset, dataset)
        weights = data_dir / "weights"
        large = export_folder(weights / "large")
        export_folder(weights / "csp", family="csp")
        zipped(large, weights / "large.zip")
        earlier = _earlier_jobs(server, str(dataset), data_dir / "checkpoints")
        yield Place(server, str(dataset), weights, earlier)


def submit(place: Place, initial_weights: str, **changes: object) -> tuple[int, dict]:
    """Submit a job starting from ``initial_weights``; (status, body)."""
    spec = {**TINY, "dataset": place.dataset, "training": {"initial_weights": initial_weights}, **changes}
    with place.server.client() as client:
        response = client.post("/v1/jobs", json=spec)
    return response.status_code, response.json()


def job_count(place: Place) -> int:
    with place.server.client() as client:
        return client.get("/v1/jobs").json()["total"]


def assert_refused(place: Place, initial_weights: str, status: int, words: str, **changes: object) -> None:
    """Refused naming the field, and nothing stored."""
    before = job_count(place)
    code, body = submit(place, initial_weights, **changes)
    assert code == status, body
    assert body["detail"]["field"] == FIELD, body
    assert words in body["detail"]["message"], body
    assert job_count(place) == before


def test_an_export_folder_its_zip_and_its_weights_file_are_accepted(place):
    for value in ("large", "large.zip", "large/weights.pt"):
        code, body = submit(place, str(place.weights / value))
        assert code == 201, body
        with place.server.client() as client:
            spec = client.get(f"/v1/jobs/{body['id']}").json()["spec"]
        assert spec["training"]["initial_weights"] == str(place.weights / value)  # stored as given


def test_weights_of_another_family_are_422(place):
    assert_refused(place, str(place.weights / "csp"), 422, "csp family")
    both = {"space": {"architecture": {**TINY["space"]["architecture"], "family": ["large", "csp"]}}}
    assert_refused(place, str(place.weights / "large"), 422, "large family", **both)
    csp_space = {"space": {"architecture": {**TINY["space"]["architecture"], "family": ["csp"]}}}
    code, body = submit(place, str(place.weights / "csp"), **csp_space)
    assert code == 201, body


def test_weights_outside_the_data_roots_are_403_even_through_a_symlink(place, tmp_path):
    outside = export_folder(tmp_path / "outside")
    assert_refused(place, str(outside), 403, "outside the allowed data roots")
    assert_refused(place, str(place.weights / ".." / ".." / tmp_path.name), 403, "outside")
    linked = place.weights / f"linked-{tmp_path.name}"
    linked.mkdir()
    shutil.copy(outside / "model.yaml", linked / "model.yaml")
    (linked / "weights.pt").symlink_to(outside / "weights.pt")
    assert_refused(place, str(linked), 403, "outside the allowed data roots")


def test_missing_and_unreadable_weights_are_422(place):
    assert_refused(place, str(place.weights / "missing.pt"), 422, "no such file or folder")
    garbage = place.weights / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    assert_refused(place, str(garbage), 422, "cannot be read as weights")
    empty = place.weights / "empty"
    empty.mkdir(exist_ok=True)
    assert_refused(place, str(empty), 422, "cannot be read as weights")
    too_long = place.weights / ("0" * 4000)  # longer than a file name may be: refused, not a 500
    assert_refused(place, str(too_long), 422, "not a usable path")


def test_a_malicious_pickle_is_422_and_never_runs(place, tmp_path):
    marker = tmp_path / "pwned"
    evil = place.weights / f"evil-{tmp_path.name}.pt"
    torch.save({"model": Call(exec, writes(marker)), "epoch": 1}, evil)
    assert_refused(place, str(evil), 422, "builtins.exec")
    assert not marker.exists(), "the checkpoint's code ran at the door"


def test_an_earlier_jobs_trial_is_accepted_by_name_or_as_its_best_front_trial(place):
    for value in (f"job:{place.earlier.team_a}/t0", f"job:{place.earlier.team_a}"):
        code, body = submit(place, value)
        assert code == 201, body


@pytest.mark.parametrize(
    ("reference", "words"),
    [
        ("job:{missing}", "job '{missing}' not found"),
        ("job:{team_b}", "job '{team_b}' not found"),  # another team's job: as if it did not exist
        ("job:{team_b}/b0", "job '{team_b}' not found"),
        ("job:{team_a}/nope", "trial 'nope' not found in job"),
        ("job:{team_a}/t2", "has no checkpoint"),
        ("job:{team_a}/t3", "is failed: no trained weights"),
        ("job:{no_front}", "has no trial on its front"),
    ],
)
def test_a_job_reference_without_usable_weights_is_422(place, reference, words):
    names = {"missing": uuid.uuid4().hex, "team_a": place.earlier.team_a, "team_b": place.earlier.team_b,
             "no_front": place.earlier.no_front}  # fmt: skip
    assert_refused(place, reference.format(**names), 422, words.format(**names))


def test_a_job_reference_of_another_family_is_422(place):
    csp_space = {"space": {"architecture": {**TINY["space"]["architecture"], "family": ["csp"]}}}
    assert_refused(place, f"job:{place.earlier.team_a}/t1", 422, "large family", **csp_space)


def test_the_runner_exports_a_referenced_trial_once_into_the_new_jobs_folder(place, tmp_path):
    server = place.server
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            team_id = session.get(Job, place.earlier.team_a).team_id
            other_team = session.get(Job, place.earlier.team_b).team_id
        spec = parse_job_spec(
            {**TINY, "dataset": place.dataset, "training": {"initial_weights": f"job:{place.earlier.team_a}"}}
        )
        folder = job_folder(server.settings, uuid.uuid4().hex)
        exported = _initial_weights(factory, team_id, spec, folder)
        # the best front trial by the job's accuracy: t1 (AP 0.3) over the faster t0
        assert exported == str(folder / "initial_weights" / "t1")
        source = read_weight_source(exported)
        assert source.family == "large" and source.class_names is not None and len(source.class_names) == 3
        assert all(
            torch.all(value == 0.25) for key, value in source.state.items() if key.endswith(".conv.weight")
        )
        metrics = json.loads((Path(exported) / "metrics.json").read_text())
        assert metrics["trial_id"] == "t1" and metrics["trained"] is True
        assert metrics["initialised_from"] == "supernet" and metrics["inherited_share"] == 0.5
        assert not (Path(exported) / "model.onnx").exists()  # only the weights and their structure
        # a resumed job reuses its export, even when the trial's checkpoint is gone since
        stamp = (Path(exported) / "weights.pt").stat().st_mtime_ns
        moved = tmp_path / "t1.pt"
        shutil.move(place.earlier.checkpoints["t1"], moved)
        try:
            assert _initial_weights(factory, team_id, spec, folder) == exported
        finally:
            shutil.move(moved, place.earlier.checkpoints["t1"])
        assert (Path(exported) / "weights.pt").stat().st_mtime_ns == stamp
        assert sorted(path.name for path in (folder / "initial_weights").iterdir()) == ["t1"]
        # a path is read by run_search itself (inside the data roots): nothing to export
        by_path = spec.with_changes(training={"initial_weights": str(place.weights / "large")})
        assert _initial_weights(factory, team_id, by_path, folder / "other") is None
        assert _initial_weights(factory, team_id, spec.with_changes(training={}), folder / "none") is None
        # the runner looks a reference up as the door does: another team's job does not exist for it
        with factory() as session, pytest.raises(WeightsReferenceError, match="not found"):
            export_referenced_weights(session, other_team, f"job:{place.earlier.team_a}/t0", tmp_path / "x")
        assert not (tmp_path / "x").exists()
    finally:
        engine.dispose()


def test_trials_record_what_their_weights_started_from(place):
    with place.server.client() as client:
        trials = {
            item["trial_id"]: item
            for item in client.get(f"/v1/jobs/{place.earlier.team_a}/trials").json()["items"]
        }
    assert trials["t1"]["initialised_from"] == "supernet" and trials["t1"]["inherited_share"] == 0.5
    engine = make_engine(place.server.settings.resolved_database_url())
    with make_session_factory(engine)() as session:
        row = session.query(TrialRecord).filter_by(job_id=place.earlier.team_a, trial_id="t0").one()
        assert (row.initialised_from, row.inherited_share) == ("supernet", 0.5)
    engine.dispose()


@pytest.mark.slow
def test_a_job_runs_from_an_earlier_jobs_trial(tmp_path, synth_dataset):
    """The whole path: the door accepts ``job:<job>/<trial>``, the runner exports that trial into
    the new job's folder and every trial starts from it, recording where from and how much."""
    server = start_server(make_settings(tmp_path, None, data_roots=[tmp_path], run_scheduler=True))
    try:
        dataset = tmp_path / "synth"
        shutil.copytree(synth_dataset, dataset)
        earlier = _earlier_jobs(server, str(dataset), tmp_path / "checkpoints")
        reference = f"job:{earlier.team_a}/t1"
        spec = {**TINY, "dataset": str(dataset), "budget": {"max_trials": 1, "epochs_per_trial": 1},
                "training": {"batch_size": 8, "nominal_batch": 8, "initial_weights": reference}}  # fmt: skip
        with server.client() as client:
            created = client.post("/v1/jobs", json=spec)
            assert created.status_code == 201, created.text
            job_id = created.json()["id"]
            job = wait_for_job(client, job_id, lambda job: job["status"] in ("done", "failed", "cancelled"))
            assert job["status"] == "done", job["error"]
            (trial,) = client.get(f"/v1/jobs/{job_id}/trials").json()["items"]
        assert trial["initialised_from"] == reference
        assert 0 < trial["inherited_share"] <= 1
        exported = job_folder(server.settings, job_id) / "initial_weights" / "t1"
        assert read_weight_source(exported).family == "large"
    finally:
        server.stop()
