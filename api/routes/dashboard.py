"""The dashboards under ``/dashboard``: static pages (no data in them, so no token needed to load
them); every figure on them comes from the ``/v1`` routes with the caller's token."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

import dashboards
from search_spaces.hyp_meta import AUGMENTATION_KEYS

router = APIRouter(prefix="/dashboard", include_in_schema=False)
NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("")
def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/")
def jobs_page() -> FileResponse:
    return FileResponse(dashboards.page("jobs"), headers=NO_CACHE)


@router.get("/jobs/{job_id}")
def job_page(job_id: str) -> FileResponse:
    return FileResponse(dashboards.page("job"), headers=NO_CACHE)


@router.get("/compare")
def compare_page() -> FileResponse:
    return FileResponse(dashboards.page("compare"), headers=NO_CACHE)


@router.get("/augmentation.json")
def augmentation_keys() -> dict[str, list[str]]:
    """The augmentation strengths (``AUGMENTATION_KEYS``): the job page plots each one a job
    searched across its trials (static/strengths.js)."""
    return {"keys": list(AUGMENTATION_KEYS)}


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(
        dashboards.plotly_bundle(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
    )


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=dashboards.static_dir()), name="dashboard-static")
