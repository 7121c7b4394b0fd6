"""The training loop (spec §6): SGD in three groups, warm-up, cosine schedule, accumulation to a
nominal batch of 64, EMA, AMP and channels_last on CUDA, COCO AP of the EMA weights per epoch,
checkpoints that resume to the same state, and a clear failure on a non-finite loss."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from scaler import Detector, NetworkSpec
from scaler.weight_map import MappingReport
from workers.data.dataset import Dataset
from workers.data.loader import DetectionDataset, collate
from workers.data.open import open_dataset
from workers.evaluation.coco_eval import ground_truth
from workers.evaluation.nms import NMSConfig
from workers.evaluation.validate import Validation, evaluate_model
from workers.failures import NonFiniteLossError
from workers.results import CocoMetrics
from workers.training.checkpoint import load_checkpoint, save_checkpoint
from workers.training.ema import ModelEMA
from workers.training.hyp import Hyperparameters
from workers.training.inherit import start_from
from workers.training.loss import YoloLoss
from workers.training.optim import (
    NOMINAL_BATCH,
    Warmup,
    accumulation,
    build_optimizer,
    cycle_bounds,
    schedule_factor,
)
from workers.training.sandwich import Sandwich, recalibrate_batch_norm


@dataclass(frozen=True)
class TrainConfig:
    network: NetworkSpec
    data: Path
    image_size: int
    epochs: int = 10
    # epochs where the cosine schedule restarts (successive halving's rungs): every cycle decays
    # to lrf by its end, so a trial stopped at a rung stops at a low learning rate
    restarts: tuple[int, ...] = ()
    batch_size: int = 16
    hyp: Hyperparameters = field(default_factory=Hyperparameters)
    device: str = "cpu"
    workers: int = 0
    seed: int = 0
    out_dir: Path | None = None
    cache: bool = False
    nms: NMSConfig = field(default_factory=NMSConfig)
    nominal_batch: int = NOMINAL_BATCH  # gradients accumulate to this many images per step
    optimizer: str = "sgd"  # or "adam"
    # start from these weights (a parent's, ``workers.training.inherit``) instead of from scratch
    init_weights: Path | None = None


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 0-based
    metrics: CocoMetrics
    losses: dict[str, float]  # box, obj, cls, total (means over the epoch's batches)
    learning_rate: float
    seconds: float  # training and evaluation
    images_per_second: float  # training throughput
    # box, obj, cls, total on the validation split, under the reference's loss settings (not the
    # trial's own gains), so that trials with different loss hyperparameters compare
    val_losses: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "metrics": self.metrics.to_dict()}


class Trainer:
    def __init__(self, config: TrainConfig, dataset: Dataset | None = None) -> None:
        self.config = config
        self.dataset = dataset or open_dataset(config.data)
        if config.network.num_classes != self.dataset.num_classes:
            raise ValueError(
                f"num_classes: the network predicts {config.network.num_classes} classes, "
                f"the dataset has {self.dataset.num_classes}"
            )
        self.device = torch.device(config.device)
        self.cuda = self.device.type == "cuda"
        torch.manual_seed(config.seed)
        self.model = Detector(config.network).to(self.device)
        if self.cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.inheritance: MappingReport | None = None
        if config.init_weights is not None:  # mapped by structure onto this network
            self.inheritance = start_from(self.model, config.init_weights, self.dataset.names)
        cache = (config.out_dir / "cache") if (config.cache and config.out_dir) else None
        self.train_set = DetectionDataset(
            self.dataset.train, config.image_size, config.hyp, True, config.seed, cache
        )
        self.val_set = DetectionDataset(
            self.dataset.val, config.image_size, config.hyp, False, config.seed, cache
        )
        self.truth = ground_truth(self.dataset, self.dataset.val)
        self.loss = YoloLoss(self.model, config.hyp)
        self.validation_loss = YoloLoss(self.model, Hyperparameters())
        self.optimizer = build_optimizer(
            self.model, config.hyp, config.batch_size, config.nominal_batch, config.optimizer
        )
        for group in self.optimizer.param_groups:
            group["initial_lr"] = config.hyp.lr0
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.cuda)
        self.batches_per_epoch = max(1, -(-len(self.train_set) // config.batch_size))
        first_cycle = cycle_bounds(0, config.epochs, config.restarts)[1]
        self.warmup = Warmup.for_run(
            config.hyp, self.batches_per_epoch, first_cycle, config.batch_size, config.nominal_batch
        )
        planned_updates = (
            self.batches_per_epoch * config.epochs // accumulation(config.batch_size, config.nominal_batch)
        )
        self.ema = ModelEMA(self.model, planned_updates=planned_updates)
        self.epoch = 0
        self.last_step = -1
        self.history: list[EpochResult] = []
        self.best_fitness = -1.0
        # a supernet's training: each step also trains sub-networks (``workers.training.sandwich``)
        self.sandwich: Sandwich | None = None
        self.finished: list[Callable[[], None]] = []  # what the trial does with the trained network

    def _loader(self, dataset: DetectionDataset, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            shuffle=shuffle,
            num_workers=self.config.workers,
            collate_fn=collate,
            generator=generator,
            pin_memory=self.cuda,
        )

    def train_epoch(self, on_batch: Callable[[int, torch.Tensor], None] | None = None) -> dict[str, float]:
        config, epoch = self.config, self.epoch
        self.model.train()
        self.train_set.set_epoch(epoch)
        factor = schedule_factor(epoch, config.epochs, config.hyp.lrf, config.restarts)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        sums = torch.zeros(4)
        batches = 0
        for index, (images, targets, _) in enumerate(self._loader(self.train_set, shuffle=True)):
            iteration = index + self.batches_per_epoch * epoch
            self.warmup.apply(self.optimizer, iteration, factor)
            images = images.to(self.device, non_blocking=True)
            if self.cuda:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, enabled=self.cuda):
                predictions = self.model(images)
            loss, items = self.loss(predictions, targets.to(self.device))
            if self.sandwich is not None:
                loss = loss + self.sandwich.loss(images, targets.to(self.device))
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"non-finite loss at epoch {epoch}, batch {index}")
            self.scaler.scale(loss).backward()
            if iteration - self.last_step >= self.warmup.accumulate(iteration):
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.ema.update(self.model)
                self.last_step = iteration
            sums += items.cpu()
            batches += 1
            if on_batch is not None:
                on_batch(index, items.cpu())
        means = (sums / max(batches, 1)).tolist()
        return dict(zip(("box", "obj", "cls", "total"), means, strict=True))

    def validate(self) -> Validation:
        """COCO AP and validation loss of the EMA weights on the validation split."""
        loader = self._loader(self.val_set, shuffle=False)
        return evaluate_model(
            self.ema.ema,
            loader,
            self.truth,
            self.dataset.category_ids,
            self.config.nms,
            self.device,
            loss=self.validation_loss,
        )

    def recalibrate(self, batches: int = 20) -> None:
        """The EMA network's batch-norm statistics measured on training batches (a network sliced
        from a supernet and evaluated as is: ``recalibrate_batch_norm``)."""
        images = (images.to(self.device) for images, _, _ in self._loader(self.train_set, shuffle=True))
        recalibrate_batch_norm(self.ema.ema, images, batches)

    def evaluate(self) -> CocoMetrics:
        """COCO AP of the EMA weights on the validation split."""
        return self.validate().metrics

    def fit(
        self,
        on_epoch: Callable[[EpochResult], None] | None = None,
        on_batch: Callable[[int, torch.Tensor], None] | None = None,
    ) -> list[EpochResult]:
        """Train from the current epoch to ``config.epochs``; ``on_epoch`` sees each result and
        ``on_batch`` each batch's (index, [box, obj, cls, total] losses)."""
        while self.epoch < self.config.epochs:
            started = time.perf_counter()
            losses = self.train_epoch(on_batch)
            training_seconds = time.perf_counter() - started
            validation = self.validate()
            metrics = validation.metrics
            result = EpochResult(
                self.epoch,
                metrics,
                losses,
                self.optimizer.param_groups[1]["lr"],
                time.perf_counter() - started,
                len(self.train_set) / training_seconds,
                validation.losses,
            )
            self.history.append(result)
            self.epoch += 1
            improved = metrics.fitness > self.best_fitness
            self.best_fitness = max(self.best_fitness, metrics.fitness)
            if self.config.out_dir is not None:
                self.save(self.config.out_dir / "last.pt")
                if improved:
                    self.save(self.config.out_dir / "best.pt")
            if on_epoch is not None:
                on_epoch(result)
        return self.history

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.ema.state_dict(),
            "ema_updates": self.ema.updates,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "last_step": self.last_step,
            "best_fitness": self.best_fitness,
            "history": [result.to_dict() for result in self.history],
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.ema.load_state_dict(state["ema"])
        self.ema.updates = state["ema_updates"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch = state["epoch"]
        self.last_step = state["last_step"]
        self.best_fitness = state["best_fitness"]
        self.history = [_epoch_result(item) for item in state["history"]]
        torch.set_rng_state(state["torch_rng"])

    def save(self, path: Path) -> Path:
        return save_checkpoint(path, self.state_dict())

    def resume(self, path: Path) -> None:
        self.load_state_dict(load_checkpoint(path))


def _epoch_result(item: dict[str, Any]) -> EpochResult:
    return EpochResult(**{**item, "metrics": CocoMetrics(**item["metrics"])})
