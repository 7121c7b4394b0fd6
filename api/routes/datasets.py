"""Datasets: register a server path (validated) or upload a size-limited zip; list."""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from sqlalchemy import select

from api.auth import Caller
from api.db.models import DatasetRecord
from api.deps import SessionDep, SettingsDep, TeamDep
from api.errors import FieldError
from api.routing import SessionReleasingRoute
from api.schemas import DatasetIn, DatasetOut
from api.validation import resolve_dataset
from workers.data.dataset import DatasetError
from workers.data.open import open_dataset

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], route_class=SessionReleasingRoute)


def _record(session: SessionDep, team: Caller, name: str, path: Path) -> DatasetOut:
    dataset = open_dataset(path)
    record = DatasetRecord(
        id=f"ds{uuid.uuid4().hex[:24]}",
        team_id=team.id,
        name=name,
        path=str(path),
        layout=dataset.layout,
        num_classes=dataset.num_classes,
        class_names=list(dataset.names),
        train_images=len(dataset.train.records),
        val_images=len(dataset.val.records),
    )
    session.add(record)
    session.commit()
    return DatasetOut.model_validate(record)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DatasetOut)
def register_dataset(
    body: DatasetIn, session: SessionDep, team: TeamDep, settings: SettingsDep
) -> DatasetOut:
    """Register a dataset folder on the server (inside the allowed data roots)."""
    path = resolve_dataset(body.path, session, team, settings)
    return _record(session, team, body.name, path)


@router.post("/upload", status_code=status.HTTP_201_CREATED, response_model=DatasetOut)
async def upload_dataset(
    request: Request,
    session: SessionDep,
    team: TeamDep,
    settings: SettingsDep,
    name: Annotated[str, Form(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")],
    archive: Annotated[UploadFile, File(description="a zip of a COCO or YOLO dataset folder")],
) -> DatasetOut:
    length = int(request.headers.get("content-length") or 0)
    if length > settings.max_upload_bytes:
        raise FieldError("archive", f"{length} bytes is over the limit of {settings.max_upload_bytes}", 413)
    target = (settings.data_dir / "datasets" / uuid.uuid4().hex).resolve()
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive.file) as bundle:
            size = sum(item.file_size for item in bundle.infolist())
            if size > settings.max_upload_bytes:
                raise FieldError("archive", f"unpacks to {size} bytes, over the limit", 413)
            for item in bundle.infolist():
                destination = (target / item.filename).resolve()
                if target not in destination.parents and destination != target:
                    raise FieldError("archive", f"{item.filename}: a path outside the archive")
            bundle.extractall(target)
        root = _dataset_root(target)
        return _record(session, team, name, root)
    except zipfile.BadZipFile:
        shutil.rmtree(target, ignore_errors=True)
        raise FieldError("archive", "not a zip file") from None
    except DatasetError as error:
        shutil.rmtree(target, ignore_errors=True)
        raise FieldError("archive", str(error)) from None
    except FieldError:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _dataset_root(folder: Path) -> Path:
    """The folder itself, or its single top-level folder (zips often wrap one)."""
    entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


@router.get("", response_model=list[DatasetOut])
def list_datasets(session: SessionDep, team: TeamDep) -> list[DatasetOut]:
    rows = session.scalars(select(DatasetRecord).where(DatasetRecord.team_id == team.id)).all()
    return [DatasetOut.model_validate(row) for row in rows]
