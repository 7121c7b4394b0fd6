"""Validation at the door: a job is queued only if its spec, dataset and budget are acceptable.

Everything here is synchronous and may take long (parsing a spec, opening a dataset decodes every
image): routes call it on the thread pool, never on the event loop."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from api.auth import Caller
from api.db.models import DatasetRecord, Job
from api.devices import known_devices, resolve_device
from api.errors import FieldError
from api.initial_weights import WeightsReferenceError, referenced_trial, trial_family
from api.settings import Settings
from api.webhook_targets import UnresolvedWebhookError, WebhookTargetError, webhook_target
from scaler.weight_source import EXPORT_MEMBERS, WeightSource, read_weight_source
from search_spaces import PATH_MAX_LENGTH, JobSpec, SpecLoadError, parse_job_spec, parse_weights_reference
from workers.api import (
    ALLOW_HINT,
    DataRoots,
    Dataset,
    DatasetError,
    InitialModelError,
    OutsideRootsError,
    open_dataset,
    resolve_initial_models,
)

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json", "")
MAX_DEPTH = 32  # a job spec nests 5 deep; anything deeper is not a job spec
MAX_NODES = 100_000  # values in a document once YAML aliases are expanded
# libyaml's safe loader where built: a 1 MiB spec parses in ~10 ms instead of ~1 s of pure Python
# holding the GIL (which stalls every other request), and it refuses nesting past 1,000 levels
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_document_shape(document: Any) -> None:
    """Refuse documents nested deeper than MAX_DEPTH or holding more than MAX_NODES values (YAML
    aliases counted each time they are used: a "billion laughs" stops here, not in the validator)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise FieldError("body", f"nested deeper than {MAX_DEPTH} levels; a job spec is not")
        if nodes > MAX_NODES:
            raise FieldError("body", f"more than {MAX_NODES} values; a job spec is a few kB")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)


def read_document(body: bytes, content_type: str) -> Any:
    """The JSON or YAML document of a request body; 415 for other types, 400 when it does not
    parse, 422 when it is nested too deep or too large."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in YAML_TYPES and kind not in JSON_TYPES:
        raise FieldError("content-type", f"send the job spec as JSON or YAML, not {kind}", 415)
    try:
        text = body.decode("utf-8")
        if kind in YAML_TYPES:
            document: Any = yaml.load(text, Loader=SAFE_LOADER) if text.strip() else {}
        else:
            document = json.loads(text) if text.strip() else {}
    except RecursionError:
        raise FieldError("body", f"nested deeper than {MAX_DEPTH} levels; a job spec is not") from None
    except yaml.YAMLError as error:
        if "maximum nesting depth" in str(error):  # libyaml's own limit
            raise FieldError("body", f"nested deeper than {MAX_DEPTH} levels; a job spec is not") from None
        raise FieldError("body", f"not valid YAML: {error}", 400) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FieldError(
            "body", f"not valid {'YAML' if kind in YAML_TYPES else 'JSON'}: {error}", 400
        ) from None
    check_document_shape(document)
    return document


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, mappings merged key by key (``{"budget":
    {"max_trials": 2}}`` changes one budget field of a preset, not the whole budget)."""
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def parse_body(body: bytes, content_type: str) -> JobSpec:
    document = read_document(body, content_type)
    if isinstance(document, dict) and "preset" in document:
        from search_spaces import load_job_spec

        overrides = {key: value for key, value in document.items() if key != "preset"}
        try:
            base = load_job_spec(str(document["preset"])).model_dump(mode="json")
        except SpecLoadError as error:
            raise FieldError("preset", error.message) from None
        document = merged(base, overrides)
    try:
        return parse_job_spec(document)
    except SpecLoadError as error:
        raise FieldError(error.field or "body", error.message) from None


def open_allowed(path: Path, roots: DataRoots, field: str = "dataset") -> Dataset:
    """The dataset at ``path``, every file of it inside ``roots`` (403 otherwise), valid and
    readable (422: a name too long for the file system is a client's mistake, not a server error)."""
    try:
        return open_dataset(path, roots)
    except OutsideRootsError as error:
        raise FieldError(field, error.problems[0], 403) from None
    except DatasetError as error:
        raise FieldError(field, str(error)) from None
    except OSError as error:
        raise FieldError(field, f"cannot be read: {error.strerror or type(error).__name__}") from None


def outside_roots(field: str, value: str, settings: Settings) -> FieldError:
    """The 403 for a server path a request names outside the data roots, saying how to allow it."""
    roots = ", ".join(str(root) for root in settings.allowed_roots())
    return FieldError(field, f"{value} is outside the allowed data roots ({roots}); {ALLOW_HINT}", 403)


def allowed_path(value: str, field: str, settings: Settings) -> Path:
    """``value`` as a server path, resolved (symlinks followed), inside the allowed data roots (403
    otherwise; not yet opened)."""
    if "\x00" in value or len(value) > PATH_MAX_LENGTH:
        raise FieldError(field, f"not a path: NUL characters or longer than {PATH_MAX_LENGTH} characters")
    try:
        path = Path(value).resolve()  # a server path: no ~ expansion (whose home would it be?)
        inside = DataRoots.of(settings.allowed_roots()).contains(path)
    except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, a name too long
        raise FieldError(field, f"not a usable path: {error}") from None
    if not inside:
        raise outside_roots(field, value, settings)
    return path


def dataset_path(value: str, session: Session, team: Caller, settings: Settings) -> Path:
    """A registered dataset id of the team, or a server path inside the allowed data roots (not yet
    opened)."""
    if not value:
        raise FieldError("dataset", "required: a registered dataset id or a server path")
    if "\x00" not in value and len(value) <= PATH_MAX_LENGTH:  # else not an id, and allowed_path says so
        record = session.get(DatasetRecord, value)
        if record is not None and record.team_id == team.id:
            return Path(record.path)
    return allowed_path(value, "dataset", settings)


def resolve_dataset(value: str, session: Session, team: Caller, settings: Settings) -> tuple[Path, Dataset]:
    """The dataset a request names, opened and checked: every file it reads inside the data roots."""
    path = dataset_path(value, session, team, settings)
    return path, open_allowed(path, DataRoots.of(settings.allowed_roots()))


def budget_limits(settings: Settings) -> dict[str, int]:
    """The most a job's budget may ask of this server, by budget field (its OpenAPI document says so)."""
    return {
        "max_trials": settings.max_trials,
        "epochs_per_trial": settings.max_epochs_per_trial,
        "max_concurrent_trials": settings.max_concurrent_trials,
    }


def check_limits(spec: JobSpec, settings: Settings) -> None:
    for name, limit in budget_limits(settings).items():
        value = getattr(spec.budget, name)
        if value > limit:
            raise FieldError(f"budget.{name}", f"{value} is over this server's limit of {limit}")


def check_warm_start(spec: JobSpec, session: Session, team: Caller) -> None:
    for index, job_id in enumerate(spec.warm_start_from):
        job = session.get(Job, job_id)
        if job is None or job.team_id != team.id:
            raise FieldError(f"warm_start_from[{index}]", f"no job {job_id!r}")


INITIAL_WEIGHTS_FIELD = "training.initial_weights"
# what reading weights a user names may raise besides WeightSourceError: an unsafe or broken pickle
# (refused before anything in it runs), an unreadable file, a broken zip, text that is not UTF-8
UNREADABLE_WEIGHTS = (ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile)


def weights_family(value: str, settings: Settings) -> str:
    """The family of the weights at the server path ``value`` (``weight_source``)."""
    return weight_source(value, settings, INITIAL_WEIGHTS_FIELD).family


def weight_source(value: str, settings: Settings, field: str) -> WeightSource:
    """The weights at the server path ``value`` with their structure: every file of them that would
    be read inside the data roots (403), and readable as weights through the safe loader (422,
    naming ``field``, the request's field that names them). Reads the whole checkpoint (seconds for
    a large one): call it on the thread pool."""
    path = allowed_path(value, field, settings)
    try:  # exists() raises for a name too long for the file system (ENAMETOOLONG)
        if not path.exists():
            raise FieldError(field, f"{value}: no such file or folder")
        roots = DataRoots.of(settings.allowed_roots())
        folder = path if path.is_dir() else path.parent
        for member in EXPORT_MEMBERS:  # an export's files are read beside the path: a symlink among them
            if (folder / member).exists() and not roots.contains(folder / member):
                raise outside_roots(field, str(folder / member), settings)
    except OSError as error:
        raise FieldError(field, f"not a usable path: {error.strerror or error}") from None
    try:
        return read_weight_source(path)
    except UNREADABLE_WEIGHTS as error:
        raise FieldError(field, f"{value} cannot be read as weights: {error}") from None


def check_initial_weights(spec: JobSpec, session: Session, team: Caller, settings: Settings) -> None:
    """``training.initial_weights`` names weights this job may start from: a path inside the data
    roots that reads as weights, or a measured trial with a checkpoint of one of the team's jobs;
    either of the family the space searches (weights map only within a family)."""
    value = spec.training.initial_weights
    if value is None:
        return
    reference = parse_weights_reference(value)
    if reference is None:
        family = weights_family(value, settings)
    else:
        try:
            _, row = referenced_trial(session, team.id, *reference)
        except WeightsReferenceError as error:
            raise FieldError(INITIAL_WEIGHTS_FIELD, str(error)) from None
        family = trial_family(row)
    searched = spec.space.architecture.family
    if any(name != family for name in searched):
        raise FieldError(
            INITIAL_WEIGHTS_FIELD,
            f"weights of the {family} family cannot start networks of the {', '.join(searched)} "
            "family that space.architecture.family searches: weights map only within a family",
        )


LATENCY_DEVICE_FIELD = "objectives.latency.device"


def check_latency_device(spec: JobSpec, session: Session) -> None:
    """A job timed on a registered device names one the service knows: a preset or a device
    registered with it (``cpu``, ``cuda`` and ``cuda:N`` are the trial's own device)."""
    latency = spec.objectives.latency
    if latency.registered and resolve_device(session, latency.device) is None:
        known = ", ".join(sorted(known_devices(session)))
        raise FieldError(
            LATENCY_DEVICE_FIELD,
            f"{latency.device!r} is not a known device: cpu, cuda, cuda:N or one of {known} "
            "(GET /v1/devices)",
        )


WEBHOOK_FIELD = "notify.webhook"


def check_webhook(spec: JobSpec, settings: Settings) -> None:
    """``notify.webhook`` leads only to addresses its runner may call: public ones, or ones the
    operator allows (``api/webhook_targets.py``). A host that does not resolve here passes: the
    runner checks it again when it calls it."""
    if spec.notify is None:
        return
    try:
        webhook_target(spec.notify.webhook, settings.webhook_allowed())
    except WebhookTargetError as error:
        raise FieldError(WEBHOOK_FIELD, str(error)) from None
    except UnresolvedWebhookError:
        return


def check_initial_models(spec: JobSpec, settings: Settings) -> None:
    """Each model yaml among ``space.initial_points`` lies inside the data roots (403) and is the
    network of a point of the space (422 naming ``space.initial_points[i].model``)."""
    try:
        resolve_initial_models(spec, DataRoots.of(settings.allowed_roots()))
    except OutsideRootsError as error:
        raise FieldError(str(error.source), error.problems[0], 403) from None
    except InitialModelError as error:
        raise FieldError(error.field, error.message) from None


def validated_spec(
    body: bytes, content_type: str, session: Session, team: Caller, settings: Settings
) -> JobSpec:
    spec = parse_body(body, content_type)
    check_limits(spec, settings)
    check_webhook(spec, settings)
    check_latency_device(spec, session)
    check_warm_start(spec, session, team)
    check_initial_weights(spec, session, team, settings)
    check_initial_models(spec, settings)
    dataset, _ = resolve_dataset(spec.dataset, session, team, settings)
    return spec.with_changes(dataset=str(dataset))
