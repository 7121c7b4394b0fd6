"""Search efficiency: hypervolume reached against trial-epochs spent, equal budgets, several seeds.

    python bench/search_efficiency.py                         # 3 seeds, every method, 144 trial-epochs each
    python bench/search_efficiency.py --methods nsga2 evolve+inherit --out bench/results/search.jsonl
    python bench/search_efficiency.py --seeds 0 1 2 3 4 --budget 288 --out bench/results/search.jsonl

Methods: evolve + MO-ASHA; evolve with weight inheritance (FIFO; children fine-tune their parent's
weights for a third of a trial), from two trials from scratch (``evolve+inherit``) or one
(``evolve+inherit1``); NSGA-II + MO-ASHA; plain Optuna NSGA-II (FIFO); random (FIFO). Every run
searches the same small space on the built-in dataset with a fixed hypervolume reference (AP 0,
``--reference-ms``), so that volumes compare across runs. The dataset (one class, one or two objects
of 24 px or more) and the trial length (18 epochs) give a real AP signal on CPU. MO-ASHA's rungs
(3 and 9 epochs by default) rank by validation loss and latency (``--rung-metric``): AP is still at
its noise floor there for every candidate (measured: ρ(AP at epoch 6, final AP) ≈ −0.2 to −0.4),
while the validation loss at epoch 3 orders them (ρ ≈ −0.9 over eight candidates, mostly by input
size; ``bench/rung_schedule.py``). Prints per run the final hypervolume and the trial-epochs each
method needed to reach plain NSGA-II's final hypervolume (same seed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from recipe import recipe_hyperparameters, recipe_training

from search_spaces import parse_job_spec
from workers.data.synth import SynthConfig, write_synth_dataset
from workers.search.outcome import SearchResult
from workers.search.run import ensure_ray, run_search

EVOLUTION = {"initial_random": 3}
# weight inheritance: two trials from scratch (the space's default point and one random draw),
# then children that start from their parent's weights and train a third of a trial
INHERITANCE = {"initial_random": 1, "inherit_weights": True}
# the same from one trial from scratch (the space's default point): children start 18 epochs sooner
INHERITANCE_ONE_START = {"initial_random": 0, "inherit_weights": True}
METHODS = {
    "evolve+moasha": ("evolve", "moasha", EVOLUTION),
    "evolve+inherit": ("evolve", "fifo", INHERITANCE),
    "evolve+inherit1": ("evolve", "fifo", INHERITANCE_ONE_START),
    "nsga2+moasha": ("nsga2", "moasha", EVOLUTION),
    "nsga2": ("nsga2", "fifo", EVOLUTION),
    "random": ("random", "fifo", EVOLUTION),
    # weight sharing (issue 23): one supernet — the space's largest network, trained for one trial's
    # epochs with the sandwich rule — then NSGA-II's candidates sliced from it and judged as they are
    # (0 epochs each); the supernet's epochs are the run's only trial-epochs
    "supernet": ("nsga2", "fifo", EVOLUTION),
    # training.initial_weights (issue 23): NSGA-II whose every candidate fine-tunes weights trained
    # elsewhere (``--pretrained``: the space's largest network trained on the three-class demo
    # dataset, as a released checkpoint is trained on COCO; its classes are not these, so the class
    # rows start fresh), a third of a trial each; the pretraining is not counted, like a download.
    # ``nsga2+weights`` fine-tunes as a trained network continues (lr0 × lrf, no warm-up),
    # ``nsga2+transfer`` as the reference fine-tunes (lr0 and its warm-up): training.fine_tune
    "nsga2+weights": ("nsga2", "fifo", EVOLUTION),
    "nsga2+transfer": ("nsga2", "fifo", EVOLUTION),
}
# what a method adds to the job (``job(extra=…)``): the supernet method's settings; its candidates
# cost no trial-epochs, so the trial count bounds the run
EXTRAS: dict[str, dict] = {
    "supernet": {"supernet": {"fine_tune_epochs": 0, "sandwich": True}, "max_trials": 24},
    "nsga2+weights": {"fine_tune_share": 3, "fine_tune": "continue"},
    "nsga2+transfer": {"fine_tune_share": 3, "fine_tune": "transfer"},
}


def pretrain(path: Path, data: Path, epochs: int) -> Path:
    """The weights ``nsga2+weights`` starts from: the space's largest network (width 0.5, depth
    0.5, 96 px) trained ``epochs`` on the three-class demo dataset, saved with its structure."""
    if path.is_file():
        return path
    from scaler import ScalingPoint, compound_scale
    from workers.training.hyp import Hyperparameters
    from workers.training.inherit import save_weights
    from workers.training.trainer import TrainConfig, Trainer

    if not (data / "dataset.yaml").is_file():
        write_synth_dataset(data, SynthConfig(images=200, val_images=50, size=256, classes=3, seed=0))
    point = ScalingPoint(depth_multiple=0.5, width_multiple=0.5, input_size=96, num_classes=3)
    hyp = Hyperparameters.from_mapping(recipe_hyperparameters())
    trainer = Trainer(
        TrainConfig(compound_scale(point).to_network(), data, 96, epochs=epochs, hyp=hyp, **recipe_training())
    )
    trainer.fit()
    return save_weights(path, trainer.ema.ema, trainer.dataset.names)


def job(
    dataset: Path,
    searcher: str,
    scheduler: str,
    seed: int,
    budget: int,
    epochs: int,
    reference: float,
    rungs: tuple[int, int] = (6, 3),
    rung_metric: str = "val_loss",
    lr_schedule: str = "run",
    cpus_per_trial: float | None = None,
    latency_threads: int | None = 1,
    evolution: dict | None = None,
    extra: dict | None = None,
) -> dict:
    extra = dict(extra or {})
    supernet = extra.pop("supernet", None)
    max_trials = extra.pop("max_trials", budget)
    weights = extra.pop("initial_weights", None)
    fine_tune = extra.pop("fine_tune", None)
    if "fine_tune_share" in extra:  # candidates fine-tune trained weights: a share of a trial each
        epochs = max(1, epochs // extra.pop("fine_tune_share"))
    document = {
        "name": f"efficiency-{searcher}-{scheduler}-{seed}",
        "dataset": str(dataset),
        "space": {
            "architecture": {
                "family": ["large"],
                "input_size": [64, 96],
                "stages": [5],
                "depth_multiple": {"low": 0.2, "high": 0.5},
                "width_multiple": {"low": 0.125, "high": 0.5},
                "activation": ["mish", "leaky"],
            },
            "hyperparameters": {
                "base": recipe_hyperparameters(),  # the short CPU recipe
                "search": {"lr0": {"lower": 0.001, "upper": 0.01, "log": True}},
                "anchors": False,
            },
        },
        # latency at one thread: the more repeatable figure on a 2-vCPU VM (bench/latency_noise.py)
        "objectives": {
            "accuracy": "ap",
            "reference_latency_ms": reference,
            "latency": {"threads": latency_threads},
        },
        # None: the search's default, all CPUs for one trial at a time. Every row recorded before
        # cpus_per_trial existed trained with torch's default threads, all cores: the same
        "budget": {
            "max_trials": max_trials,
            "epochs_per_trial": epochs,
            "max_trial_epochs": budget,
            "cpus_per_trial": cpus_per_trial,
        },
        "training": recipe_training(),
        "searcher": searcher,
        "scheduler": scheduler,
        "evolution": evolution or EVOLUTION,
        "scheduling": {
            "grace_period": rungs[0],
            "reduction_factor": rungs[1],
            "rung_metric": rung_metric,
            "lr_schedule": lr_schedule,
        },
        "seed": seed,
    }
    if supernet is not None:  # the supernet trains one trial's epochs unless told otherwise
        document["supernet"] = {"epochs": epochs, **supernet}
    if weights is not None:
        document["training"]["initial_weights"] = str(weights)
    if fine_tune is not None:
        document["training"]["fine_tune"] = fine_tune
    return document


def epochs_curve(result: SearchResult) -> list[tuple[int, float]]:
    """(trial-epochs spent, hypervolume) after each finished trial, in finishing order."""
    ordered = sorted(result.trials, key=lambda t: t.finished_at or 0.0)
    spent, curve = 0, []
    for trial, volume in zip(ordered, result.hypervolume_history, strict=True):
        spent += trial.epochs
        curve.append((spent, volume))
    return curve


def trials_run(result: SearchResult) -> list[dict]:
    """Each trial of a run as a row records it, in finishing order (``bench/search_rescore.py``
    re-times them from their points)."""
    return [
        {
            "epochs": t.epochs,
            "ap": t.ap,
            "latency_ms": t.latency_ms,
            "latency_spread": t.latency_spread,
            "status": t.status,
            "point": t.point,
            "inherited_from": t.inherited_from,
            "initialised_from": t.initialised_from,
            "val_loss": [row.get("val_loss_total") for row in t.history],
            "ap_per_epoch": [row.get("ap") for row in t.history],
        }
        for t in sorted(result.trials, key=lambda t: t.finished_at or 0.0)
    ]


def epochs_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((spent for spent, volume in curve if volume >= target - 1e-12), None)


def append(path: Path | None, record: dict) -> None:
    if path is not None:
        with path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-search-synth-1class"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=144, help="trial-epochs per run")
    parser.add_argument("--epochs", type=int, default=18, help="epochs per trial")
    parser.add_argument("--reference-ms", type=float, default=40.0)
    parser.add_argument("--grace", type=int, default=3, help="MO-ASHA: epochs before the first rung")
    parser.add_argument("--eta", type=int, default=3, help="MO-ASHA: reduction factor")
    parser.add_argument("--rung-metric", default="val_loss", choices=["val_loss", "accuracy"])
    parser.add_argument("--lr-schedule", default="run", choices=["run", "rungs"])
    parser.add_argument(
        "--cpus-per-trial",
        default="auto",
        help="CPUs (torch threads) per trial; 'auto', the search's default, is what recorded rows used",
    )
    parser.add_argument(
        "--latency-threads", default="1", help="threads to time latency with; 'auto': the trial's"
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--pretrained",
        type=Path,
        default=Path("runs/bench-pretrained/largest-3class.pt"),
        help="nsga2+weights: the weights every candidate starts from (trained once when missing)",
    )
    parser.add_argument("--pretrain-epochs", type=int, default=18)
    parser.add_argument(
        "--supernet-epochs", type=int, default=None, help="supernet: its epochs (default: one trial's)"
    )
    parser.add_argument("--work", type=Path, default=Path("runs/bench-search"))
    args = parser.parse_args()
    if not (args.data / "dataset.yaml").is_file():
        # one class, one or two large objects: a few epochs already separate candidates
        write_synth_dataset(
            args.data, SynthConfig(160, 40, 128, 1, seed=0, max_objects=2, min_object_size=24.0)
        )
    ensure_ray(num_cpus=2)
    rows = []
    for seed in args.seeds:
        curves = {}
        for method in args.methods:
            searcher, scheduler, evolution = METHODS[method]
            spec = parse_job_spec(
                job(
                    args.data.resolve(),
                    searcher,
                    scheduler,
                    seed,
                    args.budget,
                    args.epochs,
                    args.reference_ms,
                    (args.grace, args.eta),
                    args.rung_metric,
                    args.lr_schedule,
                    None if args.cpus_per_trial == "auto" else float(args.cpus_per_trial),
                    None if args.latency_threads == "auto" else int(args.latency_threads),
                    evolution,
                    {
                        **EXTRAS.get(method, {}),
                        **(
                            {"supernet": {**EXTRAS["supernet"]["supernet"], "epochs": args.supernet_epochs}}
                            if method == "supernet" and args.supernet_epochs
                            else {}
                        ),
                        **(
                            {
                                "initial_weights": pretrain(
                                    args.pretrained, Path("runs/bench-presets-synth"), args.pretrain_epochs
                                ).resolve()
                            }
                            if method in ("nsga2+weights", "nsga2+transfer")
                            else {}
                        ),
                    },
                )
            )
            shutil.rmtree(args.work / f"{method}-{seed}", ignore_errors=True)
            started = time.perf_counter()
            result = run_search(spec, args.work / f"{method}-{seed}", export_front=False)
            curves[method] = epochs_curve(result)
            row = {
                "seed": seed,
                "method": method,
                "trials": len(result.trials),
                "trial_epochs": curves[method][-1][0] if curves[method] else 0,
                "hypervolume": result.hypervolume,
                "front": len(result.front),
                "minutes": (time.perf_counter() - started) / 60,
                "rung_metric": args.rung_metric if scheduler == "moasha" else None,
                "evolution": evolution if searcher == "evolve" else None,
                "lr_schedule": args.lr_schedule if scheduler == "moasha" else "run",
                "cpus_per_trial": spec.budget.cpus_per_trial,
                "latency_threads": spec.objectives.latency.threads,
                "latency_rounds": spec.objectives.latency.rounds,
                "supernet_epochs": spec.supernet.epochs if spec.supernet else None,
                "fine_tune": spec.training.fine_tune if spec.training.initial_weights else None,
                "curve": curves[method],
                "trials_run": trials_run(result),
            }
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("curve", "trials_run")}), flush=True)
            append(args.out, row)  # as it goes: an interrupted benchmark keeps its finished runs
        if curves.get("nsga2"):
            target = curves["nsga2"][-1][1]
            for row in rows[-len(args.methods) :]:
                reached = {"seed": seed, "method": row["method"]}
                reached["epochs_to_nsga2_final"] = epochs_to_reach(curves[row["method"]], target)
                print(json.dumps(reached), flush=True)
                append(args.out, reached)


if __name__ == "__main__":
    main()
