"""The box sizes of a job's dataset, as a network of a given input size sees them: what the job
page draws a trial's anchors over (``GET /v1/jobs/{job_id}/boxes``).

A bounded, seeded sample of the training split's boxes (width and height in pixels once each image
is letterboxed to ``image_size``: the sizes the anchor fit matches anchors to), read through the
dataset loader with the job's dataset checked against the data roots, as every read of it is."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep, TeamDep
from api.errors import FieldError, error_responses
from api.routes.jobs import owned_job
from api.routing import SessionReleasingRoute
from workers.api import DataRoots, DatasetError, OutsideRootsError, label_size_sample, open_dataset

router = APIRouter(prefix="/v1/jobs/{job_id}", tags=["datasets"], route_class=SessionReleasingRoute)
MAX_BOXES = 2000  # the most boxes one answer holds: enough to see the sizes' spread, few to draw
MAX_IMAGE_SIZE = 8192
SAMPLES_KEPT = 16  # samples kept in memory (opening a dataset reads every image's header)


class BoxSizes(BaseModel):
    """A sample of a dataset's training boxes at an input size; ``widths[i]``, ``heights[i]``: one box."""

    image_size: int = Field(description="the input size the boxes are scaled to (each image letterboxed)")
    total: int = Field(description="boxes in the training split; the sample holds min(total, limit)")
    widths: list[float] = Field(description="box widths in pixels at image_size")
    heights: list[float] = Field(description="box heights in pixels at image_size")


@router.get("/boxes", response_model=BoxSizes, responses=error_responses(403, 404, 409, 422))
def box_sizes(
    job_id: str,
    session: SessionDep,
    team: TeamDep,
    settings: SettingsDep,
    image_size: Annotated[
        int, Query(ge=1, le=MAX_IMAGE_SIZE, description="the input size to scale the boxes to, in pixels")
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_BOXES, description="the most boxes to return")] = MAX_BOXES,
) -> BoxSizes:
    """A seeded sample (the same one each time) of at most ``limit`` of the job's training boxes,
    their widths and heights in pixels at ``image_size``. 409: the job's dataset cannot be read now."""
    job = owned_job(session, team, job_id)
    dataset = str(job.spec.get("dataset") or "")
    roots = tuple(str(root) for root in settings.allowed_roots())
    widths, heights, total = _sample(dataset, roots, image_size, limit)
    return BoxSizes(image_size=image_size, total=total, widths=list(widths), heights=list(heights))


@lru_cache(maxsize=SAMPLES_KEPT)
def _sample(
    dataset: str, roots: tuple[str, ...], image_size: int, limit: int
) -> tuple[tuple[float, ...], tuple[float, ...], int]:
    """The sample's widths, heights (rounded to 0.1 px) and the boxes in all."""
    try:
        opened = open_dataset(Path(dataset), DataRoots.of(roots), decode=False)
    except OutsideRootsError as error:
        raise FieldError("dataset", error.problems[0], 403) from None
    except (DatasetError, OSError) as error:
        raise FieldError("dataset", f"the job's dataset cannot be read: {error}", 409) from None
    sizes, total = label_size_sample(opened.train, image_size, limit)
    rounded = sizes.round(1)
    return tuple(rounded[:, 0].tolist()), tuple(rounded[:, 1].tolist()), total
