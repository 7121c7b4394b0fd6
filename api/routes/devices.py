"""Target devices (issue 25): every team lists and reads them and names them in its jobs
(``objectives.latency.device``); only an admin token registers one (a device is the cluster's,
not a team's). A node that holds a device carries the Ray resource ``device:<name>``.

Registering reads its body only once the caller is known to be an admin (no body parameter:
FastAPI would read and parse a body before resolving the caller), up to ``max_spec_bytes``."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Caller
from api.body import parse_model_body, read_body
from api.db.models import DeviceRecord
from api.deps import SessionDep, SettingsDep, TeamDep
from api.devices import known_devices, resolve_device
from api.errors import FieldError, error_responses
from api.openapi import component_ref
from api.routing import SessionReleasingRoute
from api.schemas import DeviceOut
from search_spaces.devices import DEVICE_NAME_PATTERN, TargetDevice, preset_devices

router = APIRouter(prefix="/v1/devices", tags=["devices"], route_class=SessionReleasingRoute)
PATTERN_MESSAGES = {
    "name": "lower-case letters, digits, '.', '_' and '-', starting with a letter or a digit",
    "description": "must be printable: no control characters (NUL, newlines, terminal escapes)",
}


def served(device: TargetDevice, presets: dict[str, TargetDevice]) -> DeviceOut:
    return DeviceOut(**device.model_dump(), preset=device.name in presets)


@router.get("", response_model=list[DeviceOut])
def list_devices(session: SessionDep, team: TeamDep) -> list[DeviceOut]:
    """Every device a job may name: the presets, then the registered devices."""
    presets = preset_devices()
    return [served(device, presets) for device in known_devices(session).values()]


@router.get("/{name}", response_model=DeviceOut, responses=error_responses(404))
def get_device(name: str, session: SessionDep, team: TeamDep) -> DeviceOut:
    """One device by name: a preset or a registered device."""
    # a name no device can have is not looked up (NUL and the like never reach the database)
    device = resolve_device(session, name) if re.fullmatch(DEVICE_NAME_PATTERN, name) else None
    if device is None:
        raise FieldError("name", f"no device {name[:100]!r}", 404)
    return served(device, preset_devices())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceOut,
    responses=error_responses(400, 403, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component_ref(TargetDevice)}},
        }
    },
)
async def register_device(request: Request, team: TeamDep, settings: SettingsDep) -> DeviceOut:
    """Register a target device (admin tokens only; 409 when a preset or a registered device has
    its name). The nodes that hold it must carry the Ray resource ``device:<name>``."""
    if not team.admin:
        raise FieldError("authorization", "an admin token is required to register a device", 403)
    device = parse_model_body(
        await read_body(request, settings.max_spec_bytes), TargetDevice, PATTERN_MESSAGES
    )
    factory = request.app.state.session_factory
    return await run_in_threadpool(_register, factory, device, team)


def _register(factory: sessionmaker[Session], device: TargetDevice, team: Caller) -> DeviceOut:
    taken = FieldError("name", f"a device named {device.name!r} exists already", 409)
    presets = preset_devices()
    with factory() as session:
        if resolve_device(session, device.name) is not None:
            raise taken
        session.add(DeviceRecord(**device.model_dump(), created_by=team.id))
        try:
            session.commit()
        except IntegrityError:  # registered by another request meanwhile (the unique name)
            raise taken from None
    return served(device, presets)
