"""Train a small scaled model on the built-in synthetic dataset within a time budget.

    python bench/train_tiny.py                        # 3 classes, 256 px, 500 train / 100 val, ≤ 10 min
    python bench/train_tiny.py --device cuda --img 512 --width-multiple 0.5 --minutes 10

Prints AP / AP50 per epoch, training throughput and latency; --out writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from scaler import ScalingPoint, compound_scale, count_parameters
from scaler.profile import count_flops
from workers.data.open import open_dataset
from workers.data.synth import SynthConfig, write_synth_dataset
from workers.latency import measure_both
from workers.training.hyp import Hyperparameters
from workers.training.trainer import TrainConfig, Trainer

# A short-budget recipe (found with this script, see docs/benchmarks.md): Adam, a higher lr, a
# short warm-up and light augmentation, so that a few hundred steps already learn.
SHORT_SCHEDULE = "lr0=0.004,warmup_epochs=0.5,mosaic=0,scale=0.25,translate=0.1"


def main() -> None:
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
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--nominal-batch", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0, help="stop after the epoch that crosses this")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    parser.add_argument(
        "--hyp",
        type=str,
        default=SHORT_SCHEDULE,
        help="hyperparameter overrides, e.g. 'lr0=0.02,mosaic=0.5' ('' for the reference defaults)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    if not (args.data / "dataset.yaml").is_file():
        write_synth_dataset(args.data, SynthConfig(args.images, args.val_images, 256, args.classes, seed=0))
    dataset = open_dataset(args.data)
    overrides = dict(item.split("=") for item in args.hyp.split(",") if item)
    hyp = Hyperparameters.from_mapping({key: float(value) for key, value in overrides.items()})
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
    while trainer.epoch < config.epochs:
        epoch_start = time.perf_counter()
        losses = trainer.train_epoch()
        train_seconds = time.perf_counter() - epoch_start
        trainer.epoch += 1
        metrics = trainer.evaluate()
        rows.append(
            {
                "epoch": trainer.epoch,
                "ap": metrics.ap,
                "ap50": metrics.ap50,
                "loss": losses["total"],
                "images_per_second": len(trainer.train_set) / train_seconds,
                "elapsed_s": time.perf_counter() - started,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        if time.perf_counter() - started > args.minutes * 60:
            break
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
