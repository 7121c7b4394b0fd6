"""Datasets: register a server path (validated) or upload a size-limited zip; list.

Both read their body only once the caller is known (no body parameters: FastAPI would read and
parse a body before resolving the caller), up to a limit (413 past it), and open the dataset —
which decodes every image — on the thread pool."""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.auth import Caller
from api.body import limited_stream, parse_model_body, read_body
from api.db.models import DatasetRecord
from api.deps import SessionDep, SettingsDep, TeamDep
from api.errors import FieldError, error_responses
from api.openapi import component_ref
from api.routing import SessionReleasingRoute
from api.schemas import NAME_MAX_LENGTH, NAME_PATTERN, DatasetIn, DatasetOut
from api.settings import Settings
from api.validation import open_allowed, resolve_dataset
from workers.api import DataRoots, Dataset

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], route_class=SessionReleasingRoute)
UPLOAD_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "archive"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH, "pattern": NAME_PATTERN},
        "archive": {"type": "string", "format": "binary", "description": "a zip of a COCO or YOLO folder"},
    },
}


def _record(session: Session, team: Caller, name: str, path: Path, dataset: Dataset) -> DatasetOut:
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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetOut,
    responses=error_responses(400, 403, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component_ref(DatasetIn)}},
        }
    },
)
async def register_dataset(request: Request, team: TeamDep, settings: SettingsDep) -> DatasetOut:
    """Register a dataset folder on the server: it and every file it names inside the data roots."""
    body = parse_model_body(await read_body(request, settings.max_spec_bytes), DatasetIn)
    factory = request.app.state.session_factory
    return await run_in_threadpool(_register, factory, body, team, settings)


def _register(
    factory: sessionmaker[Session], body: DatasetIn, team: Caller, settings: Settings
) -> DatasetOut:
    with factory() as session:
        path, dataset = resolve_dataset(body.path, session, team, settings)
        return _record(session, team, body.name, path, dataset)


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetOut,
    responses=error_responses(400, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_FORM_SCHEMA}}}
    },
)
async def upload_dataset(request: Request, team: TeamDep, settings: SettingsDep) -> DatasetOut:
    """A zip of a COCO or YOLO dataset folder (form fields ``name`` and ``archive``), at most
    ``max_upload_bytes``; it may read nothing outside its own folder."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise FieldError("content-type", f"send a multipart/form-data form, not {kind or 'nothing'}", 415)
    stream = limited_stream(request, settings.max_upload_bytes, "archive")
    parser = MultiPartParser(request.headers, stream, max_files=1, max_fields=1, max_part_size=1024)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise FieldError("body", f"not a valid form: {error.message}", 400) from None
    try:
        name = form.get("name")
        archive = form.get("archive")
        if not isinstance(name, str):
            raise FieldError("name", "required: a form field")
        if not _valid_name(name):
            raise FieldError("name", "1–200 characters, no control characters")
        if not isinstance(archive, UploadFile):
            raise FieldError("archive", "required: a zip file")
        factory = request.app.state.session_factory
        return await run_in_threadpool(_unpack_and_record, factory, archive.file, name, team, settings)
    finally:
        await form.close()


def _valid_name(name: str) -> bool:
    try:
        DatasetIn(name=name, path="upload")
    except ValidationError:
        return False
    return True


def _unpack_and_record(
    factory: sessionmaker[Session], archive: IO[bytes], name: str, team: Caller, settings: Settings
) -> DatasetOut:
    target = settings.uploads_dir() / uuid.uuid4().hex
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            size = sum(item.file_size for item in bundle.infolist())
            if size > settings.max_upload_bytes:
                raise FieldError("archive", f"unpacks to {size} bytes, over the limit", 413)
            for item in bundle.infolist():
                destination = (target / item.filename).resolve()
                if target not in destination.parents and destination != target:
                    raise FieldError("archive", f"{item.filename}: a path outside the archive")
            bundle.extractall(target)
        root = _dataset_root(target)
        # an upload reads nothing outside its own folder, whatever its dataset.yaml says
        dataset = open_allowed(root, DataRoots.of([target]), field="archive")
        with factory() as session:
            return _record(session, team, name, root, dataset)
    except zipfile.BadZipFile:
        shutil.rmtree(target, ignore_errors=True)
        raise FieldError("archive", "not a zip file") from None
    except BaseException:
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
