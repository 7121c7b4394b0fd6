"""Liveness, readiness and what a client needs to know about this service."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.deps import SessionDep, SettingsDep
from api.errors import FieldError, error_responses
from api.routing import SessionReleasingRoute
from api.schemas import ServiceInfo

router = APIRouter(tags=["health"], route_class=SessionReleasingRoute)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(503))
def readyz(session: SessionDep) -> dict[str, str]:
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # any database failure means not ready
        raise FieldError("database", f"unavailable: {type(error).__name__}", 503) from None
    return {"status": "ready"}


@router.get("/v1/info", response_model=ServiceInfo)
def info(request: Request, settings: SettingsDep) -> ServiceInfo:
    """Public (no token): the version and where MLflow's UI is, for links from the dashboards."""
    return ServiceInfo(version=request.app.version, mlflow_ui_url=settings.mlflow_ui_url)
