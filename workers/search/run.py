"""run_search: a job on Ray Tune (local ``ray.init()`` by default, ``RAY_ADDRESS`` respected),
one nested MLflow run per trial, the front exported at the end. ``resume=True`` continues an
interrupted search from Tune's experiment state (the searcher's state included) and the scheduler's
rung records (``rungs``: Tune keeps none of a scheduler's state)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import ray
from ray import tune

from search_spaces import JobSpec, Point
from search_spaces.devices import TargetDevice
from workers.data.open import open_dataset
from workers.data.roots import DataRoots
from workers.devices import local_resources, target_device_config
from workers.latency_cache import start_cache, stop_cache
from workers.results import LatencyStats
from workers.search.front_export import export_front_trials
from workers.search.initial_models import resolve_initial_models
from workers.search.mlflow_logger import MlflowLogger
from workers.search.outcome import SearchResult, SearchTrial, summarise
from workers.search.points import latency_target, nest, starting_point
from workers.search.predictor import CONFIG_KEY as PREDICTOR_KEY
from workers.search.predictor import learn_from_search, predictor_config
from workers.search.recorder import History, TrialRecorder, logged_histories, record
from workers.search.remeasure import remeasure_unstable
from workers.search.resources import resolve_resources
from workers.search.rungs import keep_rungs
from workers.search.schedulers import make_scheduler
from workers.search.screening import make_screen
from workers.search.searchers import KnownResults, make_searcher
from workers.search.stopper import SearchStopper
from workers.search.supernet import SUPERNET, extreme_point, slicing_role, supernet_weights, training_role
from workers.search.trainable import search_trial
from workers.search.tune_adapter import (
    ExtensibleSearchGenerator,
    extend_restored_search,
    reattach_run_config,
    restored_scheduler,
)

EXPERIMENT = "search"
FINALIZE = "finalize"  # the Tune run that trains the front's networks once more


def ensure_ray(
    address: str | None = None, num_cpus: int | None = None, resources: Mapping[str, float] | None = None
) -> None:
    """Connect to the cluster at ``address`` (or ``RAY_ADDRESS``), else start Ray on this machine
    with ``num_cpus`` and custom ``resources`` (a target device this machine holds)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and "://" in address:  # Ray Client (ray://…) takes no node options
        ray.init(address=address)
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is None and num_cpus is not None:
        options["num_cpus"] = num_cpus
    if address is None and resources:
        options["resources"] = dict(resources)
    ray.init(address=address, **options)


def _trainable(spec: JobSpec) -> Any:
    resources = {"cpu": spec.budget.cpus_per_trial, "gpu": spec.budget.gpus_per_trial}
    return tune.with_resources(search_trial, resources)


def run_search(
    spec: JobSpec,
    out_dir: str | Path,
    callbacks: Sequence[object] = (),
    tracking_uri: str | None = None,
    resume: bool = False,
    initial_points: Sequence[Point] = (),
    export_front: bool = True,
    ray_address: str | None = None,
    stop_requested: Callable[[], bool] | None = None,
    data_roots: Sequence[str | Path] | None = None,
    histories: Mapping[str, History] | None = None,
    initial_weights: str | Path | None = None,
    target_device: TargetDevice | None = None,
    known_latencies: Mapping[str, LatencyStats] | None = None,
    known_results: Sequence[SearchTrial] = (),
) -> SearchResult:
    """Run (or resume) the search of ``spec``; results, Tune state, exports under ``out_dir``.
    ``stop_requested`` is polled during the search; when it returns True the run is interrupted
    as Ctrl+C would (``stopper``): its state stays resumable, the cut trials unfinished and the
    searcher not finished. ``data_roots`` (a service's): each trial re-checks that every dataset
    file it reads lies inside them. ``histories``: on resume, the trials' epoch histories recorded
    before (e.g. the service's database), merged with Tune's own log of them, so that a restored
    trial's record holds every epoch (``recorder``). A resume tells each callback with an
    ``on_search_restored(trial_ids)`` which trials the restored search holds (none when there
    was no state to restore): any other trial it kept from before is one the saved state never
    knew, which the search redoes under a new id. ``initial_weights``: where the job's
    ``training.initial_weights`` lie on this machine (a service resolves ``job:`` references to an
    export); None: the spec's own path (checked against ``data_roots``). ``target_device``: the
    registered device ``objectives.latency.device`` names (a service reads it from its registry);
    None: a preset of that name (``search_spaces.devices``), when the spec names one.
    ``known_latencies``: measurements taken before (cache key → stats, e.g. the service's database),
    preloaded into the search's measurement cache (``workers.latency_cache``), which its trials ask
    before timing a network; a measurement that was unstable is timed again once Tune has finished
    (``workers.search.remeasure``) before the front is computed. ``known_results``: results not
    trained here (imported, warm start), told to the searcher when it starts, resumes or is extended
    (``KnownResults``); in the result's trials and front, never exported nor finalized."""
    out_dir = Path(out_dir).resolve()
    # model yamls among space.initial_points become the points they are (checked again here)
    roots = DataRoots.of(None if data_roots is None else [str(root) for root in data_roots])
    spec = resolve_initial_models(spec, roots)
    out_dir.mkdir(parents=True, exist_ok=True)
    ensure_ray(ray_address, resources=local_resources(spec, target_device))
    spec = resolve_resources(spec)
    tracking_uri = tracking_uri or f"sqlite:///{out_dir / 'mlflow.db'}"
    parent_file = out_dir / "mlflow_parent_run"
    logger = MlflowLogger(
        tracking_uri,
        experiment=f"scaler/{spec.name}",
        spec=spec,
        parent_run_id=parent_file.read_text().strip() if resume and parent_file.is_file() else None,
    )
    parent_file.write_text(logger.parent_run_id)
    for callback in callbacks:
        if hasattr(callback, "on_search_start"):
            callback.on_search_start(logger.parent_run_id, logger.experiment_id)
    recorder = TrialRecorder([logger, *callbacks], histories=histories if resume else None)
    restored: Any = ()
    stopper = SearchStopper(spec.budget.max_trial_epochs, stop_requested, key=str(out_dir))
    shared = {
        "job": spec.model_dump(mode="json"),
        "data_roots": None if data_roots is None else [str(root) for root in data_roots],
        "initial_weights": starting_point(spec, initial_weights, data_roots),
        "target_device": target_device_config(spec, target_device),
        "latency_cache": start_cache(out_dir, known_latencies),  # the actor's name, for every trial
    }
    target = latency_target(spec, shared["target_device"])
    shared[PREDICTOR_KEY] = predictor_config(target)  # the device's latency model, when it has one

    def classes() -> int:
        return open_dataset(spec.dataset, roots, decode=False).num_classes

    supernet_trials: list[SearchTrial] = []
    if spec.supernet is not None:
        supernet_trials = _supernet(spec, out_dir, shared, recorder)
        stopper.spent += sum(trial.epochs for trial in supernet_trials)  # its epochs count
        shared["supernet"] = slicing_role(spec, out_dir)
    experiment_path = out_dir / "ray" / EXPERIMENT
    # a run killed before Tune first saved its state (tuner.pkl written, no experiment_state-*.json)
    # has nothing to restore: Tuner.restore would hold no results. It starts over (the records of
    # its trials are dropped: on_search_restored names none)
    saved = any(experiment_path.glob("experiment_state-*.json"))
    if resume and saved and tune.Tuner.can_restore(str(experiment_path)):
        tuner = tune.Tuner.restore(
            str(experiment_path), _trainable(spec), resume_unfinished=True, resume_errored=True
        )
        restored = tuner.get_results()
        stopper.spent += _epochs_spent(restored)  # the trial-epoch budget carries on
        recorder.seed(logged_histories(restored))
        reattach_run_config(tuner, [recorder], stopper)  # the restored run config has no live ones
        # a larger budget: more trials; the restored searcher learns the results it has not seen
        extend_restored_search(tuner, spec.budget.max_trials, restored, KnownResults.of(spec, known_results))
        keep_rungs(restored_scheduler(tuner), out_dir, resume=True)  # restored with empty rungs
    else:
        scheduler = make_scheduler(spec)
        keep_rungs(scheduler, out_dir, resume=False)  # a fresh search starts its rung records anew
        search = ExtensibleSearchGenerator(
            make_searcher(
                spec,
                list(initial_points),
                weights_dir=out_dir / "weights",
                screen=make_screen(spec, shared[PREDICTOR_KEY], target, classes, shared["target_device"]),
                search_dir=out_dir,
            )
        )
        search.tell_known(KnownResults.of(spec, known_results))
        tuner = tune.Tuner(
            _trainable(spec),
            param_space=shared,
            tune_config=tune.TuneConfig(
                search_alg=search,
                scheduler=scheduler,
                num_samples=spec.budget.max_trials,
                time_budget_s=spec.budget.max_wall_minutes * 60 if spec.budget.max_wall_minutes else None,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=EXPERIMENT,
                storage_path=str(out_dir / "ray"),
                callbacks=[recorder],
                stop=stopper,
                failure_config=tune.FailureConfig(max_failures=spec.budget.max_failures_per_trial),
                # the last epoch's checkpoint is what a retry resumes from and what export loads
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                verbose=0,
            ),
        )
    if resume:
        _announce_restored(callbacks, restored)
    grid = tuner.fit()
    trials = supernet_trials + _collect(grid, recorder)
    if not stopper.asked_to_stop:  # no trial trains any more: unstable timings are taken again
        trials = remeasure_unstable(spec, trials, shared, recorder)
    if spec.finalize is not None and not stopper.asked_to_stop:
        trials += _finalize(spec, out_dir, shared, recorder, trials)
        trials = remeasure_unstable(spec, trials, shared, recorder)
    stop_cache(shared["latency_cache"])
    if not stopper.asked_to_stop:  # the device's latency model learns from what this search timed
        learn_from_search(spec, trials, target, classes)
    trained = {trial.trial_id for trial in trials}
    trials = [*trials, *(trial for trial in known_results if trial.trial_id not in trained)]
    front, volume, history, reference = summarise(trials, spec.objectives)
    result = SearchResult(
        trials=tuple(trials),
        front=front,
        hypervolume=volume,
        hypervolume_history=history,
        reference=reference,
        experiment_path=str(experiment_path),
        mlflow_run_id=logger.parent_run_id,
    )
    if export_front:
        exported = [trial_id for trial_id in result.front if trial_id in trained]  # its own networks
        result = replace(
            result, export_dir=str(export_front_trials(spec, result.trials, exported, out_dir / "export"))
        )
    logger.finish(result, spec)
    return result


def _tune_run(spec: JobSpec, name: str, out_dir: Path, recorder: TrialRecorder) -> tune.RunConfig:
    """The run config of the job's extra Tune runs (its supernet, its finalists)."""
    return tune.RunConfig(
        name=name,
        storage_path=str(out_dir / "ray"),
        callbacks=[recorder],
        failure_config=tune.FailureConfig(max_failures=spec.budget.max_failures_per_trial),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        verbose=0,
    )


def _finalize(
    spec: JobSpec, out_dir: Path, shared: dict[str, Any], recorder: TrialRecorder, trials: list[SearchTrial]
) -> list[SearchTrial]:
    """``finalize``: every network on the search's front trains ``finalize.epochs`` more from its
    own trained weights (fine-tuning: ``workers.search.trainable``), each a new trial of the job
    (``initialised_from: trial:<finalist>``), so that the front the job exports is of finished
    networks. A resumed job resumes this run too."""
    assert spec.finalize is not None
    experiment = out_dir / "ray" / FINALIZE
    if tune.Tuner.can_restore(str(experiment)):
        tuner = tune.Tuner.restore(
            str(experiment), _trainable(spec), resume_unfinished=True, resume_errored=True
        )
        return _collect(tuner.fit(), recorder)
    front = summarise(trials, spec.objectives)[0]
    if not front:
        return []
    weights = export_front_trials(spec, trials, front, out_dir / FINALIZE / "from", onnx=False)
    by_id = {trial.trial_id: trial for trial in trials}
    entries = [
        {
            "parent": trial_id,
            "path": str(weights / trial_id),
            "point": by_id[trial_id].point,
            "epochs": spec.finalize.epochs,
        }
        for trial_id in front
    ]
    tuner = tune.Tuner(
        _trainable(spec),
        param_space={**shared, "supernet": None, "finalize": tune.grid_search(entries)},
        tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
        run_config=_tune_run(spec, FINALIZE, out_dir, recorder),
    )
    return _collect(tuner.fit(), recorder)


def _supernet(
    spec: JobSpec, out_dir: Path, shared: dict[str, Any], recorder: TrialRecorder
) -> list[SearchTrial]:
    """Train the job's supernet (a one-trial Tune run of its own), or find it trained by an
    earlier run of the job; its trial record. Raises ValueError when it could not be trained:
    no candidate can start without it."""
    experiment = out_dir / "ray" / SUPERNET
    weights = supernet_weights(out_dir)
    if weights.is_file() and tune.Tuner.can_restore(str(experiment)):  # a resumed job: trained before
        grid = tune.Tuner.restore(str(experiment), _trainable(spec)).get_results()
    else:
        largest = nest(extreme_point(spec, largest=True))
        tuner = tune.Tuner(
            _trainable(spec),
            param_space={**shared, **largest, "supernet": training_role(spec, out_dir)},
            tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
            run_config=_tune_run(spec, SUPERNET, out_dir, recorder),
        )
        grid = tuner.fit()
    trials = _collect(grid, recorder)
    if not weights.is_file():
        reasons = "; ".join(trial.error for trial in trials if trial.error) or "it did not finish"
        raise ValueError(f"supernet: the supernet could not be trained: {reasons}")
    return trials


def _epochs_spent(grid: Any) -> int:
    spent = 0
    for result in grid:
        epoch = (result.metrics or {}).get("epoch")
        if isinstance(epoch, int | float) and epoch >= 0:
            spent += int(epoch) + 1
    return spent


def _announce_restored(callbacks: Sequence[object], restored: Any) -> None:
    """Tell the callbacks which trials a resumed search holds (those that reported a result)."""
    metrics = [result.metrics or {} for result in restored]
    trial_ids = {str(values["trial_id"]) for values in metrics if values.get("trial_id")}
    for callback in callbacks:
        if hasattr(callback, "on_search_restored"):
            callback.on_search_restored(trial_ids)


def _collect(grid: Any, recorder: TrialRecorder) -> list[SearchTrial]:
    """One record per trial: the recorder's (with histories) where it saw the trial finish, else
    built from Tune's result (e.g. trials finished before a resume)."""
    trials = []
    for result in grid:
        if result.config is None or (not result.metrics and result.error is None):
            continue  # created but never started (the budget ran out or the search was stopped)
        trial_id = result.metrics.get("trial_id") if result.metrics else None
        trial_id = trial_id or Path(result.path).name
        if trial_id in recorder.finished:
            trials.append(recorder.finished[trial_id])
            continue
        error = str(result.error).strip().splitlines()[-1] if result.error else None
        trials.append(
            record(
                trial_id,
                result.config,
                result.metrics,
                recorder.histories.get(trial_id, ()),
                finished=True,
                error=error,
                persisted=result.checkpoint,
            )
        )
    return trials
