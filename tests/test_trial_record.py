"""One trial record, every layer: the fields of ``SearchTrial`` reach the database row, the API's
schema, the MLflow run, the dashboard's drawer and the export's metrics.json; the statuses are one
enum everywhere; a trial's Tune report survives the trip through Tune's flat metrics."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ray.tune.utils import flatten_dict

from api.db.models import TrialRecord
from api.schemas import NOT_SERVED, TrialOut
from workers.results import LatencyStats, TrialReport, TrialStatus
from workers.search.outcome import MLFLOW_LEFT_OUT, RECORD_FIELDS, SearchTrial, TrialOrigin

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboards" / "static"
# the drawer's fields it shows in its own place rather than as ``trial.<field>``
DRAWER_ELSEWHERE = {"trial_id": "the drawer's title", "history": "the learning curves"}


def latency_stats() -> LatencyStats:
    return LatencyStats(
        p50_ms=10.0, p95_ms=12.5, mean_ms=10.4, std_ms=0.8, runs=30, warmup=5, device="cpu",
        device_name="EPYC", torch_version="2.13.0", cuda_version=None, driver_version=None,
        threads=2, precision="fp32", batch=1, input_size=96, include_nms=False, rounds=3,
        round_p50_ms=(10.0, 10.2, 10.1), estimate_ms=10.0, spread=1.02, runtime="torch",
    )  # fmt: skip


def every_field_set() -> SearchTrial:
    """A record with a value in every field (a new field left at its default fails the tests)."""
    return SearchTrial(
        trial_id="t1", status=TrialStatus.COMPLETED, point={"arch/width_multiple": 0.5}, epochs=3,
        ap=0.3, ap50=0.5, fitness=0.32, latency_ms=10.0, latency_nms_ms=11.0, latency_spread=1.02,
        latency_stats=latency_stats(), params=1000, gflops=1.5, image_size=96, anchors="[[1, 2]]",
        anchor_recall_before=0.7, anchor_recall_after=0.99, error="none", checkpoint="/runs/t1/trainer.pt",
        finished_at=1.0, seconds=60.0,
        mlflow_run_id="run", history=({"epoch": 0.0, "ap": 0.1},), inherited_from="t0",
        initialised_from="trial:t0", inherited_share=0.8, latency_predicted_ms=10.5,
        origin=TrialOrigin.IMPORTED, source="a run on the lab's machine",
    )  # fmt: skip


def test_every_field_of_the_record_has_a_value_in_the_test_record():
    trial = every_field_set()
    defaults = SearchTrial(trial_id="t", status=TrialStatus.RUNNING, point={})
    unset = [name for name in RECORD_FIELDS if getattr(trial, name) == getattr(defaults, name)]
    assert unset == [], f"give these fields a value in every_field_set(): {unset}"


def test_the_database_row_has_a_column_per_field_of_the_record():
    columns = {column.key for column in TrialRecord.__table__.columns}
    assert set(RECORD_FIELDS) - columns == set()


def test_the_record_goes_to_a_row_and_back_unchanged():
    trial = every_field_set()
    assert SearchTrial.from_dict(trial.to_dict()) == trial


def test_the_api_serves_every_field_but_the_servers_paths_and_clock():
    served = set(TrialOut.model_fields)
    assert served == (set(RECORD_FIELDS) - NOT_SERVED) | {"device_hours"}
    document = TrialOut.model_validate({**every_field_set().to_dict(), "device_hours": 0.1}).model_dump(
        mode="json"
    )
    assert document["latency_stats"]["p95_ms"] == 12.5 and document["latency_stats"]["runtime"] == "torch"
    assert document["status"] == "completed" and document["origin"] == "imported"
    assert TrialOut.model_json_schema()["$defs"]["TrialStatus"]["enum"] == [s.value for s in TrialStatus]
    assert TrialOut.model_json_schema()["$defs"]["TrialOrigin"]["enum"] == [o.value for o in TrialOrigin]


def test_the_mlflow_run_holds_every_number_and_text_of_the_record_and_the_latency_measurement():
    metrics, tags = every_field_set().mlflow_fields()
    logged = {key.removeprefix("final_") for key in metrics} | {key.removeprefix("scaler.") for key in tags}
    expected = set(RECORD_FIELDS) - MLFLOW_LEFT_OUT - {"latency_stats"}
    assert expected - logged == set()
    stats = {item.name for item in dataclasses.fields(LatencyStats)}
    measured = {key.removeprefix("final_latency_") for key in metrics if key.startswith("final_latency_")}
    measured |= {key.removeprefix("scaler.latency.") for key in tags if key.startswith("scaler.latency.")}
    assert stats - measured == set()
    assert tags["scaler.latency.device_name"] == "EPYC" and metrics["final_latency_p95_ms"] == 12.5


def test_the_dashboards_drawer_shows_every_served_field_and_filters_by_every_status():
    script = (DASHBOARD / "job.js").read_text()
    drawer = script[script.index("async function openDrawer") :]
    shown = set(re.findall(r"\btrial\.(\w+)", drawer))
    missing = set(TrialOut.model_fields) - shown - set(DRAWER_ELSEWHERE)
    assert missing == set(), f"the trial drawer (dashboards/static/job.js) does not show {missing}"
    page = (DASHBOARD / "job.html").read_text()
    select = page[page.index('id="trial-status"') : page.index("</select>", page.index('id="trial-status"'))]
    options = re.findall(r"<option>(\w+)</option>", select)
    assert sorted(options) == sorted(status.value for status in TrialStatus)


def test_a_report_survives_tunes_flat_metrics():
    report = TrialReport(
        status=TrialStatus.RUNNING, epoch=2, ap=0.3, ap50=0.5, ap75=0.2, fitness=0.32,
        latency_ms=10.0, latency_nms_ms=11.0, latency=latency_stats(), params=1000, gflops=1.5,
        image_size=96, anchors=((10.0, 13.0, 16.0, 30.0),), anchor_recall_before=0.7,
        anchor_recall_after=0.99, threads=2, inherited_from="t0",
        initialised_from="trial:t0", inherited_share=0.8, error=None, constraint_violation=None,
        losses={"total": 1.5, "box": 0.5}, val_losses={"total": 1.7}, images_per_second=30.0,
        train_seconds=12.0, resumed=True, latency_predicted_ms=10.5,
    )  # fmt: skip
    assert TrialReport.from_metrics(report.to_metrics()) == report
    assert TrialReport.from_metrics(flatten_dict(report.to_metrics())) == report
    final = dataclasses.replace(report, status=TrialStatus.FAILED, final=True, error="OutOfMemoryError: x")
    assert TrialReport.from_metrics(final.to_metrics()) == final
    # every objective is named from the first report on, measured or not (Tune checks for them)
    empty = TrialReport(status=TrialStatus.INFEASIBLE).to_metrics()
    assert {"ap", "latency_ms", "latency_nms_ms", "val_loss_total"} <= set(empty)
    assert empty["latency_ms"] is None


def test_a_status_is_one_enum_whose_values_are_the_stored_strings():
    assert TrialStatus("errored") is TrialStatus.ERRORED and TrialStatus.COMPLETED == "completed"
    assert {s for s in TrialStatus if s.measured} == {TrialStatus.COMPLETED, TrialStatus.STOPPED}
    assert SearchTrial(trial_id="t", status="stopped", point={}).status is TrialStatus.STOPPED
