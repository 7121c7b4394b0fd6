"""GET /v1/jobs/{id}/boxes over HTTP, on SQLite and PostgreSQL: a bounded, seeded sample of the
job's training boxes at an input size, read through the dataset loader; bad queries name the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tests.api.conftest import OTHER_TOKEN, TINY
from workers.data.boxes import label_sizes
from workers.data.open import open_dataset


def test_the_boxes_of_a_jobs_dataset_at_an_input_size(server, dataset):
    expected = label_sizes(open_dataset(dataset).train, 64)
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": dataset}).json()["id"]
        every = client.get(f"/v1/jobs/{job_id}/boxes", params={"image_size": 64})
        assert every.status_code == 200, every.text
        boxes = every.json()
        assert boxes["image_size"] == 64 and boxes["total"] == len(expected) == len(boxes["widths"])
        assert np.allclose(np.column_stack([boxes["widths"], boxes["heights"]]), expected, atol=0.05)
        # twice the input size: every box twice as large
        doubled = client.get(f"/v1/jobs/{job_id}/boxes", params={"image_size": 128}).json()
        assert np.allclose(doubled["widths"], 2 * np.asarray(boxes["widths"]), atol=0.15)

        sample = client.get(f"/v1/jobs/{job_id}/boxes", params={"image_size": 64, "limit": 10}).json()
        assert sample["total"] == len(expected) and len(sample["widths"]) == len(sample["heights"]) == 10
        pairs = set(zip(boxes["widths"], boxes["heights"], strict=True))
        assert set(zip(sample["widths"], sample["heights"], strict=True)) <= pairs
        again = client.get(f"/v1/jobs/{job_id}/boxes", params={"image_size": 64, "limit": 10}).json()
        assert again == sample  # seeded: the same sample each time

        for params, field in (
            ({"image_size": 64, "limit": 0}, "limit"),
            ({"image_size": 64, "limit": 2001}, "limit"),
            ({"image_size": 64, "limit": "many"}, "limit"),
            ({}, "image_size"),
            ({"image_size": 0}, "image_size"),
        ):
            refused = client.get(f"/v1/jobs/{job_id}/boxes", params=params)
            assert refused.status_code == 422 and refused.json()["detail"]["field"] == field, params
        assert client.get("/v1/jobs/nope/boxes", params={"image_size": 64}).status_code == 404
    with server.client(OTHER_TOKEN) as other:  # another team's job does not exist for you
        assert other.get(f"/v1/jobs/{job_id}/boxes", params={"image_size": 64}).status_code == 404


def test_a_job_whose_dataset_is_gone_is_409_naming_the_dataset(server, dataset):
    copy = Path(server.settings.data_dir) / "synth-gone"
    shutil.copytree(dataset, copy)
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": str(copy)}).json()["id"]
        shutil.rmtree(copy)
        gone = client.get(f"/v1/jobs/{job_id}/boxes", params={"image_size": 64})
        assert gone.status_code == 409 and gone.json()["detail"]["field"] == "dataset"
