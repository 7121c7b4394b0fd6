"""Results a job did not train: measured elsewhere and imported into it (``POST /v1/jobs/{id}/
trials/import``, origin ``imported``), or an earlier job's measured trials it warm-starts from
(origin ``warm_start``). Both are trial rows of the job: they join its front and hypervolume, count
on none of its budget, and its searcher is told them as completed trials when its search starts,
resumes or is extended (``workers.search.searchers.KnownResults``).

Warm start reuses an earlier job's *results* when they stand for this job's (``reuses_results``:
the same dataset, and latency timed on the same device with the same settings); an earlier job
measured otherwise contributes its front's points instead, which this job trains again."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
import uuid
import zipfile
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import Job, TrialRecord
from api.errors import FieldError
from api.schemas import MeasuredResultIn
from api.settings import Settings
from api.validation import allowed_path, weight_source
from scaler.weight_map import structure_shapes
from search_spaces import JobSpec, Parameter, Point, SearchSpace
from search_spaces.hyp_meta import HYP_META
from search_spaces.parameters import Value
from workers.api import MEASURED_STATUSES, CocoMetrics, SearchTrial, TrialOrigin, TrialStatus

ARCH, HYP = "arch/", "hyp/"
SHOWN_NAME = 100  # characters of a name the request gave, in the field an error names


def outside(parameter: Parameter, value: object) -> str | None:
    """Why ``value`` is no value of ``parameter`` (None: it is one)."""
    if parameter.kind == "choice":
        if isinstance(value, bool) or value not in parameter.choices:
            return f"{value!r} is not one of {list(parameter.choices)}"
        return None
    assert parameter.low is not None and parameter.high is not None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{value!r} is not a number"
    if parameter.kind == "int" and value != int(value):
        return f"{value!r} is not a whole number"
    if not parameter.low <= value <= parameter.high:
        return f"{value!r} is outside [{parameter.low:g}, {parameter.high:g}]"
    return None


def lies_in(point: Mapping[str, object], space: SearchSpace) -> bool:
    """Whether ``point`` gives every parameter of ``space`` a value of it."""
    return all(
        parameter.name in point and outside(parameter, point[parameter.name]) is None
        for parameter in space.parameters()
    )


def _scaling_values(field: str, given: Mapping[str, Value], space: SearchSpace) -> Point:
    """The point's ``arch/`` values: each named one a parameter of the space, a value of it; every
    one the space searches given (the others: the space's only value)."""
    parameters = {
        parameter.name.removeprefix(ARCH): parameter for parameter in space.architecture.parameters()
    }
    values: Point = {}
    for name, value in given.items():
        where = f"{field}.point.{name[:SHOWN_NAME]}"
        parameter = parameters.get(name)
        if parameter is None:
            raise FieldError(
                where, f"not a scaling parameter of the job's space (one of {', '.join(parameters)})"
            )
        problem = outside(parameter, value)
        if problem is not None:
            raise FieldError(where, problem)
        # a choice as the space writes it (128.0 given for 128), a number as a number
        values[ARCH + name] = (
            parameter.choices[parameter.choices.index(value)] if parameter.choices else value
        )
    for name, parameter in parameters.items():
        if ARCH + name not in values:
            if not parameter.fixed:
                raise FieldError(f"{field}.point.{name}", "required: the job's space searches it")
            values[ARCH + name] = parameter.initial()
    return values


def _hyperparameter_values(field: str, given: Mapping[str, float], space: SearchSpace) -> Point:
    """The point's ``hyp/`` values: known keys within the meta table's limits, a searched one within
    the job's range (one the job does not search is kept with the result, and the searcher sees
    the job's base value there)."""
    searched = {
        parameter.name.removeprefix(HYP): parameter for parameter in space.hyperparameters.parameters()
    }
    values: Point = {}
    for key, value in given.items():
        where = f"{field}.hyperparameters.{key[:SHOWN_NAME]}"
        meta = HYP_META.get(key)
        if meta is None:
            raise FieldError(where, f"unknown hyperparameter; known: {', '.join(HYP_META)}")
        if not meta.lower <= value <= meta.upper:
            raise FieldError(
                where, f"{value!r} is outside the meta table's limits [{meta.lower:g}, {meta.upper:g}]"
            )
        parameter = searched.get(key)
        problem = None if parameter is None else outside(parameter, value)
        if problem is not None:
            raise FieldError(where, f"{problem}: the job's searched range")
        values[HYP + key] = float(value)
    return values


def _weights(field: str, value: str, spec: JobSpec, point: Point, settings: Settings) -> str:
    """The server path of an imported network's weights, as its export will load them: inside the
    data roots (403), read through the safe loader, and the weights of the very network ``point``
    builds for the job's dataset (422 otherwise)."""
    from workers.api import DataRoots, build_network, open_dataset, trial_config_of

    path = allowed_path(value, field, settings)
    if path.is_dir():  # a Scaler export's folder: its weights.pt
        path = path / "weights.pt"
    elif path.is_file() and zipfile.is_zipfile(path):
        raise FieldError(
            field, "an export's zip is not loaded as a trial's weights: give its unpacked folder"
        )
    source = weight_source(str(path), settings, field)
    family = str(point[ARCH + "family"])
    if source.family != family:
        raise FieldError(field, f"weights of the {source.family} family, but the point is a {family} network")
    try:
        classes = open_dataset(spec.dataset, DataRoots.of(settings.allowed_roots()), decode=False).num_classes
        config = trial_config_of(
            spec, SearchTrial(trial_id="imported", status=TrialStatus.COMPLETED, point=point)
        )
        expected = structure_shapes(build_network(config, classes))
    except (OSError, ValueError) as error:  # the job's dataset gone since, a point that builds nothing
        raise FieldError(field, f"the point's network cannot be built to check them: {error}") from None
    found = {key: tuple(tensor.shape) for key, tensor in source.state.items()}
    for key in sorted(expected.keys() | found.keys()):
        if expected.get(key) != found.get(key):
            raise FieldError(
                field,
                f"not the weights of the network the point builds for the job's {classes} classes: "
                f"{key} is {found.get(key, 'missing')} there, {expected.get(key, 'absent')} in the network",
            )
    return str(path)


def imported_trial(field: str, entry: MeasuredResultIn, spec: JobSpec, settings: Settings) -> SearchTrial:
    """The trial record of one imported result (``field``: where it is in the request), or a
    FieldError naming what is wrong with it. A result that breaks the job's constraints is recorded
    infeasible, as the job's own candidates are."""
    objectives = spec.objectives
    if entry.device != objectives.latency.device:
        raise FieldError(
            f"{field}.device",
            f"{entry.device!r} is not the device the job times latency on ({objectives.latency.device!r}): "
            "only latencies measured there compare with its trials",
        )
    if objectives.accuracy in ("ap50", "fitness") and entry.ap50 is None:
        raise FieldError(f"{field}.ap50", f"required: the job optimises {objectives.accuracy}")
    if objectives.latency.include_nms and entry.latency_nms_ms is None:
        raise FieldError(f"{field}.latency_nms_ms", "required: the job optimises latency with NMS")
    point = {**spec.space.default_point(), **_scaling_values(field, entry.point, spec.space)}
    point.update(_hyperparameter_values(field, entry.hyperparameters, spec.space))
    weights = (
        None if entry.weights is None else _weights(f"{field}.weights", entry.weights, spec, point, settings)
    )
    latency = entry.latency_nms_ms if objectives.latency.include_nms else entry.latency_ms
    assert latency is not None
    broken = objectives.constraints.violations(latency, entry.params or 0, entry.gflops or 0.0)
    ap50 = entry.ap50 or 0.0
    return SearchTrial(
        trial_id=f"imported-{uuid.uuid4().hex[:12]}",
        status=TrialStatus.INFEASIBLE if broken else TrialStatus.COMPLETED,
        point=point,
        ap=entry.ap,
        ap50=ap50,
        fitness=CocoMetrics(entry.ap, ap50, 0.0, 0.0, 0.0, 0.0).fitness if entry.ap50 is not None else 0.0,
        latency_ms=entry.latency_ms,
        latency_nms_ms=entry.latency_nms_ms,
        params=entry.params,
        gflops=entry.gflops,
        image_size=int(point[ARCH + "input_size"]),
        error="; ".join(broken) or None,
        checkpoint=weights,
        finished_at=time.time(),
        origin=TrialOrigin.IMPORTED,
        source=entry.source,
    )


def stored_row(job_id: str, trial: SearchTrial) -> TrialRecord:
    """A result the job did not train as its row: the job spent no compute on it."""
    return TrialRecord(job_id=job_id, **trial.to_dict(), device_hours=0.0)


def trial_of(row: TrialRecord) -> SearchTrial:
    """A trial's record from its row (a column per field of the record)."""
    columns = TrialRecord.__table__.columns
    return SearchTrial.from_dict({column.key: getattr(row, column.key) for column in columns})


def reuses_results(earlier: JobSpec, spec: JobSpec) -> bool:
    """Whether ``earlier``'s measured trials stand for results of ``spec``: the same dataset, and
    latency timed on the same device with the same batch, precision and threads."""
    before, now = earlier.objectives.latency, spec.objectives.latency
    setting = ("device", "batch", "precision", "threads")
    return earlier.dataset == spec.dataset and all(
        getattr(before, key) == getattr(now, key) for key in setting
    )


def warm_start_points(factory: sessionmaker[Session], spec: JobSpec) -> list[Point]:
    """The front trials, best AP first, of the named earlier jobs whose results this job cannot
    reuse (``reuses_results``), as initial points its search trains again."""
    names = {parameter.name for parameter in spec.space.parameters()}
    points: list[Point] = []
    with factory() as session:
        for job_id in spec.warm_start_from:
            job = session.get(Job, job_id)
            if job is None or reuses_results(JobSpec.model_validate(job.spec), spec):
                continue
            rows = session.scalars(select(TrialRecord).where(TrialRecord.job_id == job_id)).all()
            for row in sorted((r for r in rows if r.trial_id in (job.front or [])), key=lambda r: -r.ap):
                if set(row.point) == names and row.point not in points:
                    points.append(dict(row.point))
    return points


def warm_start_id(job_id: str, trial_id: str) -> str:
    return "warm-" + hashlib.sha256(f"{job_id}/{trial_id}".encode()).hexdigest()[:12]


def store_warm_start_results(session: Session, job_id: str, spec: JobSpec) -> int:
    """Copy the measured trials of the warm-start jobs whose results this job reuses, each whose
    point lies in this job's space, into the job's rows (origin ``warm_start``, ``source``
    "job:<job>/<trial>"), each once; how many were added. Commits."""
    held = set(session.scalars(select(TrialRecord.trial_id).where(TrialRecord.job_id == job_id)))
    added = 0
    for earlier_id in spec.warm_start_from:
        earlier = session.get(Job, earlier_id)
        if (
            earlier is None
            or earlier_id == job_id
            or not reuses_results(JobSpec.model_validate(earlier.spec), spec)
        ):
            continue
        rows = session.scalars(
            select(TrialRecord).where(
                TrialRecord.job_id == earlier_id, TrialRecord.status.in_(sorted(MEASURED_STATUSES))
            )
        ).all()
        for row in rows:
            trial = trial_of(row)
            copied = warm_start_id(earlier_id, row.trial_id)
            if (
                copied in held
                or trial.objective_vector(spec.objectives) is None
                or not lies_in(trial.point, spec.space)
            ):
                continue
            source = f"job:{earlier_id}/{row.trial_id}"
            reused = dataclasses.replace(trial, trial_id=copied, origin=TrialOrigin.WARM_START, source=source)
            session.add(stored_row(job_id, reused))
            held.add(copied)
            added += 1
    session.commit()
    return added


def known_results(session: Session, job_id: str) -> list[SearchTrial]:
    """The job's results it did not train (imported, warm start)."""
    rows = session.scalars(
        select(TrialRecord).where(TrialRecord.job_id == job_id, TrialRecord.origin != TrialOrigin.SEARCHED)
    ).all()
    return [trial_of(row) for row in rows]


def stored_known_results(factory: sessionmaker[Session], job_id: str, spec: JobSpec) -> Sequence[SearchTrial]:
    """What the job's runner hands its search to tell its searcher: the warm-start results it
    reuses (stored as its rows first, once) and the results imported into it."""
    with factory() as session:
        store_warm_start_results(session, job_id, spec)
        return known_results(session, job_id)
