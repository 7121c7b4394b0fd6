"""Train a small scaled model on the built-in synthetic dataset within a time budget.

    python bench/train_tiny.py                        # 3 classes, 256 px, 500 train / 100 val, ≤ 10 min
    python bench/train_tiny.py --device cuda --img 512 --width-multiple 0.5 --minutes 10

Prints AP / AP50 per epoch, training throughput and latency; --out writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import torch
from recipe import hyperparameters_from, recipe_overrides, recipe_training

from scaler import ScalingPoint, compound_scale, count_parameters
from scaler.profile import count_flops
from workers.data.open import open_dataset
from workers.data.synth import SynthConfig, write_synth_dataset
from workers.latency import measure_both
from workers.training.trainer import EpochResult, TrainConfig, Trainer


class TimeBudgetSpentError(Exception):
    """Raised after the epoch that crosses ``--minutes``: ends ``Trainer.fit`` there."""


def main() -> None:
    # the defaults are the short-budget recipe (search_spaces/presets/_short-cpu-recipe.yaml, found
    # with this script, see docs/benchmarks.md): Adam, a higher lr, a short warm-up and light
    # augmentation, so that a few hundred steps already learn
    recipe = recipe_training()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-synth"))
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--val-images", type=int, default=100)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--img", type=int, default=256)
    parser.add_argument("--depth-multiple", type=float, default=0.33)
    parser.add_argument("--width-multiple", type=float, default=0.25)
    parser.add_argument("--stages", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=17)
    parser.add_argument("--batch", type=int, default=recipe["batch_size"])
    parser.add_argument("--nominal-batch", type=int, default=recipe["nominal_batch"])
    parser.add_argument("--minutes", type=float, default=10.0, help="stop after the epoch that crosses this")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default=recipe["optimizer"])
    parser.add_argument(
        "--hyp",
        type=str,
        default=recipe_overrides(),
        help="hyperparameter overrides, e.g. 'lr0=0.02,mosaic=0.5' ('' for the reference defaults)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    if not (args.data / "dataset.yaml").is_file():
        write_synth_dataset(args.data, SynthConfig(args.images, args.val_images, 256, args.classes, seed=0))
    dataset = open_dataset(args.data)
    hyp = hyperparameters_from(args.hyp)
    point = ScalingPoint(
        stages=args.stages,
        depth_multiple=args.depth_multiple,
        width_multiple=args.width_multiple,
        input_size=args.img,
        num_classes=dataset.num_classes,
    )
    config = TrainConfig(
        network=compound_scale(point).to_network(),
        data=args.data,
        image_size=args.img,
        epochs=args.epochs,
        batch_size=args.batch,
        hyp=hyp,
        device=args.device,
        workers=args.workers,
        nominal_batch=args.nominal_batch,
        optimizer=args.optimizer,
    )
    trainer = Trainer(config, dataset=dataset)
    gflops, _ = count_flops(trainer.model, args.img)
    print(
        json.dumps(
            {
                "device": args.device,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "params": count_parameters(trainer.model),
                "gflops": gflops,
                "config": vars(args),
            },
            default=str,
        )
    )
    started = time.perf_counter()
    rows = []

    def record(result: EpochResult) -> None:
        rows.append(
            {
                "epoch": result.epoch + 1,
                "ap": result.metrics.ap,
                "ap50": result.metrics.ap50,
                "loss": result.losses["total"],
                "images_per_second": result.images_per_second,
                "elapsed_s": time.perf_counter() - started,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        if time.perf_counter() - started > args.minutes * 60:
            raise TimeBudgetSpentError

    with contextlib.suppress(TimeBudgetSpentError):
        trainer.fit(on_epoch=record)
    network, with_nms = measure_both(trainer.ema.ema, args.device, input_size=args.img, runs=30)
    summary = {
        "best_ap50": max(r["ap50"] for r in rows),
        "final_ap": rows[-1]["ap"],
        "epochs": len(rows),
        "minutes": (time.perf_counter() - started) / 60,
        "latency_ms": network.p50_ms,
        "latency_nms_ms": with_nms.p50_ms,
    }
    print(json.dumps(summary))
    if args.out:
        args.out.write_text("\n".join(json.dumps(r) for r in [*rows, summary]) + "\n")


if __name__ == "__main__":
    main()
