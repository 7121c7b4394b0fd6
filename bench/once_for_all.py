"""Once-for-all sub-networks of a trained P7 (paper §5.5, issue 23), measured at CPU scale.

    python bench/once_for_all.py --epochs 20 --threads 1 --out bench/results/once-for-all-cpu.json
    python bench/once_for_all.py --epochs 1 --images 16 --val-images 8 --eval-sizes 128   # smoke

Trains a scaled-down YOLOv4-P7 (7 stages, depth 0.33, width 0.125, input 128, anchors fitted to
the data as a search does) for ``--epochs`` on the built-in synthetic dataset (the demo's: 200
train / 50 val images, 256 px, 3 classes, seed 0). Then, for the full P7 and its sub-networks
P7\\P7 and P7\\P7\\P6 (``scaler.drop_top_levels``):

- **as is**: COCO AP / AP50 of the trained EMA weights on the validation split, no training;
- **fine-tuned**: one epoch from the P7's saved weights mapped onto the sub-network's structure
  (``TrainConfig.init_weights``, ``scaler.weight_map``) at a fine-tuning learning rate (lr0 × lrf,
  no warm-up, as ``workers.search.trainable.inheriting`` does);
- **from scratch**: the same structure from random init for ``--epochs`` + 1 epochs;

plus params and CPU latency (``workers.latency.measure_latency``: batch 1, deployment form, the
same settings for every row; measured in a pass after each training phase, every network in each
pass, and reported as the lowest round median over all passes, since the machine may be shared).
With ``--eval-sizes`` the as-is rows are also evaluated and timed at other input sizes (the
paper's Figure 5 plots AP against input resolution).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from recipe import hyperparameters_from, recipe_overrides, recipe_training
from torch.utils.data import DataLoader

from scaler import Detector, ScalingPoint, compound_scale, count_parameters, drop_top_levels
from scaler.profile import count_flops
from workers.anchors import evolve_anchors
from workers.data.dataset import Dataset
from workers.data.loader import DetectionDataset, collate
from workers.data.open import open_dataset
from workers.data.synth import SynthConfig, write_synth_dataset
from workers.evaluation.coco_eval import ground_truth
from workers.evaluation.validate import evaluate_model
from workers.latency import measure_latency
from workers.training.inherit import save_weights
from workers.training.trainer import TrainConfig, Trainer

NAMES = {0: "P7", 1: "P7\\P7", 2: "P7\\P7\\P6"}


def emit(row: dict[str, Any]) -> dict[str, Any]:
    print(json.dumps(row), flush=True)
    return row


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def coco_ap(model: Detector, dataset: Dataset, size: int, nms: Any) -> dict[str, float]:
    """AP / AP50 of ``model`` on the validation split letterboxed to ``size``."""
    loader = DataLoader(DetectionDataset(dataset.val, size, None, False, 0), batch_size=8, collate_fn=collate)
    metrics = evaluate_model(model, loader, ground_truth(dataset, dataset.val), dataset.category_ids, nms)
    return {"ap": round(metrics.metrics.ap, 4), "ap50": round(metrics.metrics.ap50, 4)}


class LatencyLog:
    """CPU latency of each network at each size, measured in passes spread over the run (the
    machine is shared: other work only ever slows a round down, so the figure is the lowest round
    median over every pass; each pass's lowest is kept to show how far they agree)."""

    def __init__(self, models: dict[int, Detector], sizes: list[int], runs: int, rounds: int) -> None:
        self.models, self.sizes, self.runs, self.rounds = models, sizes, runs, rounds
        self.round_medians: dict[tuple[int, int], list[list[float]]] = {
            (count, size): [] for count in models for size in sizes
        }

    def measure_pass(self, reverse: bool = False) -> None:
        for count in sorted(self.models, reverse=reverse):
            for size in self.sizes:
                stats = measure_latency(
                    self.models[count], "cpu", input_size=size, runs=self.runs, rounds=self.rounds
                )
                self.round_medians[(count, size)].append(list(stats.round_p50_ms))
        print(f"  latency pass {len(self.round_medians[(0, self.sizes[0])])} done", flush=True)

    def result(self, count: int, size: int) -> dict[str, Any]:
        passes = self.round_medians[(count, size)]
        return {
            "latency_ms": round(min(min(medians) for medians in passes), 3),
            "latency_pass_ms": [round(min(medians), 3) for medians in passes],
        }


def train(config: TrainConfig, dataset: Dataset, label: str) -> tuple[Trainer, dict[str, Any]]:
    """Train to ``config.epochs``; the row: AP before the first step, AP per epoch, wall time."""
    started = time.perf_counter()
    trainer = Trainer(config, dataset=dataset)
    start = trainer.evaluate() if config.init_weights is not None else None
    history = trainer.fit(
        on_epoch=lambda result: print(
            f"  {label} epoch {result.epoch + 1}/{config.epochs}: AP {result.metrics.ap:.4f} "
            f"AP50 {result.metrics.ap50:.4f} loss {result.losses['total']:.4f}",
            flush=True,
        )
    )
    row = {
        "start_ap": None if start is None else round(start.ap, 4),
        "start_ap50": None if start is None else round(start.ap50, 4),
        "ap_by_epoch": [round(result.metrics.ap, 4) for result in history],
        "ap50_by_epoch": [round(result.metrics.ap50, 4) for result in history],
        "ap": round(history[-1].metrics.ap, 4),
        "ap50": round(history[-1].metrics.ap50, 4),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    return trainer, row


def max_output_difference(first: Detector, second: Detector, size: int) -> float:
    """Largest absolute difference of the two networks' decoded predictions on one random image."""
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    first.eval()
    second.eval()
    with torch.inference_mode():
        return float((first(image)[0] - second(image)[0]).abs().max())


def table(rows: list[dict[str, Any]], fine_tune_epochs: int, scratch_epochs: int) -> str:
    header = (
        f"| network | params | GFLOPs | latency ms | AP / AP50 as is | after {fine_tune_epochs} epoch"
        f" fine-tune | from scratch ({scratch_epochs} epochs) |\n|---|---|---|---|---|---|---|\n"
    )

    def cell(result: dict[str, Any] | None) -> str:
        return f"{result['ap']:.3f} / {result['ap50']:.3f}" if result else "—"

    lines = [
        f"| {row['network']} | {row['params']:,} | {row['gflops']:.3f} | {row['latency_ms']:.2f} "
        f"| {cell(row['as_is'])} | {cell(row.get('fine_tuned'))} | {cell(row.get('scratch'))} |"
        for row in rows
    ]
    return header + "\n".join(lines)


def main() -> None:
    recipe = recipe_training()  # the short-budget recipe (Adam, batch 8, light augmentation)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-synth-demo"))
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--val-images", type=int, default=50)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--img", type=int, default=128, help="training input (a multiple of 128)")
    parser.add_argument("--depth-multiple", type=float, default=0.33)
    parser.add_argument("--width-multiple", type=float, default=0.125)
    parser.add_argument("--epochs", type=int, default=20, help="the P7's epochs (N)")
    parser.add_argument("--fine-tune-epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=recipe["batch_size"])
    parser.add_argument("--hyp", default=recipe_overrides(), help="hyperparameter overrides")
    parser.add_argument("--eval-sizes", type=int, nargs="+", default=[128, 256, 384])
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--latency-rounds", type=int, default=3, help="rounds per pass")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for training and latency (default: all); 1 on a shared machine, where"
        " two threads against other work wait on each other (measured: 4–12 s a training step"
        " instead of 0.17 s)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    began = time.perf_counter()

    if not (args.data / "dataset.yaml").is_file():
        write_synth_dataset(args.data, SynthConfig(args.images, args.val_images, 256, args.classes, seed=0))
    dataset = open_dataset(args.data)
    hyp = hyperparameters_from(args.hyp)
    point = ScalingPoint(
        family="large",
        stages=7,
        depth_multiple=args.depth_multiple,
        width_multiple=args.width_multiple,
        input_size=args.img,
        num_classes=dataset.num_classes,
    )
    fit = evolve_anchors(
        dataset.train, args.img, compound_scale(point).to_network().detect.anchors, hyp.anchor_t
    )
    if fit.changed:
        point = dataclasses.replace(point, anchors=fit.anchors)
    network = compound_scale(point).to_network()
    base = TrainConfig(
        network=network,
        data=args.data,
        image_size=args.img,
        epochs=args.epochs,
        batch_size=args.batch,
        hyp=hyp,
        nominal_batch=args.batch,
        optimizer=recipe["optimizer"],
    )
    fine_tune_hyp = dataclasses.replace(hyp, lr0=hyp.lr0 * hyp.lrf, warmup_epochs=0.0)
    document: dict[str, Any] = {
        "machine": {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__},
        "config": {
            key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
        },
        "anchors": {"fitted": fit.changed, "anchors": network.detect.anchors, "bpr": fit.bpr_after},
        "fine_tune_lr0": fine_tune_hyp.lr0,
    }
    print(json.dumps(document), flush=True)

    parent, parent_row = train(base, dataset, "P7")
    trained = parent.ema.ema.eval()
    models = {count: trained if count == 0 else drop_top_levels(trained, count) for count in NAMES}
    sizes = sorted({args.img, *args.eval_sizes})
    latency = LatencyLog(models, sizes, args.latency_runs, args.latency_rounds)
    latency.measure_pass()
    rows: list[dict[str, Any]] = []
    for count, model in models.items():
        row: dict[str, Any] = {"network": NAMES[count], "name": model.spec.name, "levels": model.detect.nl}
        row["params"] = count_parameters(model)
        row["gflops"] = round(count_flops(model, args.img)[0], 4)
        row["as_is"] = coco_ap(model, dataset, args.img, base.nms)
        row["as_is_by_size"] = {
            str(size): coco_ap(model, dataset, size, base.nms) for size in sizes if size != args.img
        }
        rows.append(row)
    rows[0]["trained"] = parent_row
    with tempfile.TemporaryDirectory(prefix="once-for-all-") as scratch:
        weights = save_weights(Path(scratch) / "p7.pt", trained, dataset.names)
        for count, row in zip(NAMES, rows, strict=True):
            if count == 0:
                continue
            tune_config = dataclasses.replace(
                base,
                network=models[count].spec,
                epochs=args.fine_tune_epochs,
                hyp=fine_tune_hyp,
                init_weights=weights,
            )
            tuner = Trainer(tune_config, dataset=dataset)
            row["mapped_vs_shared_max_difference"] = max_output_difference(
                tuner.ema.ema, models[count], args.img
            )
            del tuner
            row["fine_tuned"] = train(tune_config, dataset, f"{NAMES[count]} fine-tune")[1]
            scratch_config = dataclasses.replace(
                base, network=models[count].spec, epochs=args.epochs + args.fine_tune_epochs
            )
            row["scratch"] = train(scratch_config, dataset, f"{NAMES[count]} scratch")[1]
            latency.measure_pass(reverse=count % 2 == 1)
    for count, row in zip(NAMES, rows, strict=True):
        row |= latency.result(count, args.img)
        for size, result in row["as_is_by_size"].items():
            result |= latency.result(count, int(size))
        emit(row)
    document["rows"] = rows
    document["minutes"] = round((time.perf_counter() - began) / 60, 2)
    print(table(rows, args.fine_tune_epochs, args.epochs + args.fine_tune_epochs))
    for size in args.eval_sizes:
        if size == args.img:
            continue
        cells = " | ".join(
            f"{row['network']} {row['as_is_by_size'][str(size)]['ap']:.3f} "
            f"({row['as_is_by_size'][str(size)]['latency_ms']:.2f} ms)"
            for row in rows
        )
        print(f"as is at {size}: {cells}")
    print(f"{document['minutes']} minutes")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
