"""The target devices a service knows: the presets every Scaler ships (``search_spaces/devices.yaml``)
and the devices registered with it (``devices`` table, ``POST /v1/devices``). Names are unique
across both: registering a preset's name is refused, and should a later release add a preset of a
registered device's name, the preset is the one known (a registered row never shadows a preset)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import DeviceRecord
from search_spaces.devices import TargetDevice, preset_devices

# the columns of a device row that are TargetDevice fields (the rest: id, created_by, created_at)
DEVICE_FIELDS = tuple(TargetDevice.model_fields)


def device_of(row: DeviceRecord) -> TargetDevice:
    """The TargetDevice a registered row holds (validated again: a row is never trusted blindly)."""
    return TargetDevice(**{name: getattr(row, name) for name in DEVICE_FIELDS})


def registered_devices(session: Session) -> dict[str, TargetDevice]:
    """The devices registered with the service, by name (presets left out)."""
    rows = session.scalars(select(DeviceRecord).order_by(DeviceRecord.name)).all()
    return {row.name: device_of(row) for row in rows}


def known_devices(session: Session) -> dict[str, TargetDevice]:
    """Every device a job may name, by name: the presets, then the registered devices."""
    presets = preset_devices()
    registered = {name: device for name, device in registered_devices(session).items() if name not in presets}
    return {**presets, **registered}


def resolve_device(session: Session, name: str) -> TargetDevice | None:
    """The known device called ``name`` (a preset first); None when there is none."""
    preset = preset_devices().get(name)
    if preset is not None:
        return preset
    row = session.scalar(select(DeviceRecord).where(DeviceRecord.name == name))
    return None if row is None else device_of(row)
