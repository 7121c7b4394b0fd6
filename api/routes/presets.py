"""The job-spec presets shipped with Scaler."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import TeamDep
from api.schemas import PresetOut
from search_spaces import load_job_spec, preset_names

router = APIRouter(prefix="/v1/presets", tags=["presets"])


@router.get("", response_model=list[PresetOut])
def list_presets(team: TeamDep) -> list[PresetOut]:
    return [PresetOut(name=name, spec=load_job_spec(name).model_dump(mode="json")) for name in preset_names()]
