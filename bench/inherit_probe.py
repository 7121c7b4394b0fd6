"""Weight inheritance: how much of a parent's training does a child keep, and how should it train?

    python bench/inherit_probe.py --out bench/results/inherit-probe.jsonl
    python bench/inherit_probe.py --parents 2 --variants as-built ramp

Trains each parent candidate (``bench/candidates.py``) from scratch for a whole trial and saves its
EMA weights as a search trial does; then, per child and variant, builds the child from those weights
(``workers.training.inherit``), measures its AP **before any step** (what inheritance carried over),
trains it for a child's epochs and prints the AP per epoch. Children: the parent's own architecture
(a mutation of its hyperparameters only) and a mutated one (input 96 instead of 64 or back, width
+15 %, depth −15 %). Variants of the child's training:

- ``as-built``: the search's child before this probe — no warm-up, full lr0 from the first step;
- ``ramp``: a one-epoch warm-up (at most 30 % of the child's run) in which every group rises from 0
  to lr0 (no bias kick);
- ``low-lr``: lr0 × lrf (the parent's final learning rate) from the first step, no warm-up — what a
  search's child does since this probe (``workers.search.trainable.inheriting``);
- ``low-lr-ramp``: both.

Uses the search benchmark's dataset (``bench/search_efficiency.py`` writes it).

With ``--from WEIGHTS`` no parent is trained: every candidate (``--candidates``) starts from
weights trained on *other* data (``bench/search_efficiency.py``'s pretraining: the space's largest
network on the three-class demo dataset, as a released checkpoint is trained on COCO) with the
reference's fine-tuning file under the recipe, and fine-tunes a child's epochs under the two
schedules a job may pick (``training.fine_tune``): ``transfer`` (the recipe's lr0 and warm-up, as
the reference fine-tunes) and ``low-lr`` (``continue``: lr0 × lrf, no warm-up)::

    python bench/inherit_probe.py --from runs/bench-pretrained/largest-3class.pt --variants transfer low-lr
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from candidates import CANDIDATES, candidate_config, emit

from workers.data.open import open_dataset
from workers.training.inherit import save_weights
from workers.training.trainer import Trainer
from workers.trial import TrialConfig, run_trial, train_config_of

VARIANTS: dict[str, dict] = {
    "as-built": {"warmup_epochs": 0.0},
    "ramp": {"warmup_epochs": 1.0, "warmup_bias_lr": 0.0},
    "low-lr": {"warmup_epochs": 0.0, "lr_scale": "lrf"},
    "low-lr-ramp": {"warmup_epochs": 1.0, "warmup_bias_lr": 0.0, "lr_scale": "lrf"},
    "transfer": {},  # the recipe as it is: its lr0 and its warm-up
}


def mutated(candidate: tuple) -> tuple:
    size, depth, width, lr0, activation = candidate
    other_size = 96 if size == 64 else 64
    return (other_size, round(depth * 0.85, 3), round(min(width * 1.15, 0.5), 3), lr0, activation)


def child_config(
    data: Path, child: tuple, epochs: int, weights: Path, variant: dict, fine_tune: bool = False
) -> TrialConfig:
    config = candidate_config(data, child, epochs, fine_tune=fine_tune)
    hyp = config.hyp.replace(**{k: v for k, v in variant.items() if k != "lr_scale"})
    if variant.get("lr_scale") == "lrf":
        hyp = hyp.replace(lr0=hyp.lr0 * hyp.lrf)
    return dataclasses.replace(config, hyp=hyp, init_weights=str(weights))


def start_ap(config: TrialConfig) -> float:
    """AP of the child's EMA weights before any training step."""
    dataset = open_dataset(config.data)
    trainer = Trainer(train_config_of(config, dataset.num_classes), dataset=dataset)
    return trainer.validate().metrics.ap


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("runs/bench-search-synth-1class"))
    parser.add_argument("--epochs", type=int, default=18, help="a parent's (whole trial's) epochs")
    parser.add_argument("--child-epochs", type=int, default=6)
    parser.add_argument("--parents", type=int, nargs="+", default=[2, 0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--from", dest="pretrained", type=Path, default=None, help="weights trained elsewhere"
    )
    parser.add_argument("--candidates", type=int, nargs="+", default=list(range(len(CANDIDATES))))
    args = parser.parse_args()
    if args.pretrained is not None:
        transfer(args)
        return
    with tempfile.TemporaryDirectory(prefix="inherit-probe-") as scratch:
        for index in args.parents:
            parent = CANDIDATES[index]
            weights = Path(scratch) / f"parent-{index}.pt"

            def keep(result, trainer, latency, weights=weights) -> None:
                if result.epoch == trainer.config.epochs - 1:
                    save_weights(weights, trainer.ema.ema)

            outcome = run_trial(candidate_config(args.data, parent, args.epochs), on_epoch=keep)
            ap = [round(epoch["metrics"]["ap"], 4) for epoch in outcome.history]
            emit({"role": "parent", "candidate": list(parent), "ap": ap}, args.out)
            for kind, child in (("same", parent), ("mutated", mutated(parent))):
                for name in args.variants:
                    config = child_config(args.data, child, args.child_epochs, weights, VARIANTS[name])
                    before = start_ap(config)
                    outcome = run_trial(config)
                    row = {"role": "child", "parent": list(parent), "child": kind, "candidate": list(child)}
                    row |= {"variant": name, "start_ap": round(before, 4), "error": outcome.error}
                    row["ap"] = [round(epoch["metrics"]["ap"], 4) for epoch in outcome.history]
                    emit(row, args.out)


def transfer(args: argparse.Namespace) -> None:
    """Every candidate fine-tuned from ``args.pretrained`` under each variant (``--from``)."""
    for index in args.candidates:
        candidate = CANDIDATES[index]
        for name in args.variants:
            config = child_config(
                args.data, candidate, args.child_epochs, args.pretrained, VARIANTS[name], fine_tune=True
            )
            before = start_ap(config)
            outcome = run_trial(config)
            row = {"role": "transfer", "candidate": list(candidate), "variant": name, "error": outcome.error}
            row |= {
                "start_ap": round(before, 4),
                "ap": [round(e["metrics"]["ap"], 4) for e in outcome.history],
            }
            emit(row, args.out)


if __name__ == "__main__":
    main()
