"""DetectionDataset: images and labels as the training loop and the evaluator consume them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset as TorchDataset

from workers.data import augment
from workers.data.dataset import DatasetSplit
from workers.data.images import read_rgb
from workers.training.hyp import Hyperparameters


@dataclass(frozen=True)
class ImageMeta:
    """How a network input maps back to its original image (for evaluation)."""

    image_id: int
    original_size: tuple[int, int]  # height, width
    ratio: float
    padding: tuple[float, float]  # left, top


class DetectionDataset(TorchDataset):
    """Training (``augment``: mosaic, mixup, perspective, HSV, flips) or validation (letterbox)
    samples of one split at ``image_size``. Random choices are drawn from a generator seeded with
    (seed, epoch, index), so a sample is the same whichever worker loads it."""

    def __init__(
        self,
        split: DatasetSplit,
        image_size: int,
        hyp: Hyperparameters | None = None,
        augment: bool = False,
        seed: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        self.split = split
        self.image_size = image_size
        self.hyp = hyp or Hyperparameters()
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.cache_dir = cache_dir
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self.split.records)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The image resized so its long side is ``image_size``, its labels in those pixels, the ratio."""
        record = self.split.records[index]
        ratio = self.image_size / max(record.width, record.height)
        image = self._cached(record.path, ratio)
        labels = np.concatenate((record.classes[:, None].astype(np.float32), record.boxes * ratio), axis=1)
        return image, labels, ratio

    def _cached(self, path: Path, ratio: float) -> np.ndarray:
        cache_file = None
        if self.cache_dir is not None:
            key = hashlib.sha1(
                f"{path.resolve()}:{path.stat().st_mtime_ns}:{self.image_size}".encode()
            ).hexdigest()
            cache_file = self.cache_dir / f"{key}.npy"
            if cache_file.is_file():
                return np.load(cache_file)
        image = read_rgb(path)
        if ratio != 1:
            height, width = image.shape[:2]
            size = (max(round(width * ratio), 1), max(round(height * ratio), 1))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        if cache_file is not None:
            np.save(cache_file, image)
        return image

    def _training_sample(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        hyp, size = self.hyp, self.image_size
        warp = {
            "degrees": hyp.degrees,
            "translate": hyp.translate,
            "scale": hyp.scale,
            "shear": hyp.shear,
            "perspective": hyp.perspective,
        }
        if rng.random() < hyp.mosaic:
            image, labels = self._mosaic(index, rng)
            image, labels = augment.random_perspective(image, labels, rng, border=-size // 2, **warp)
            if rng.random() < hyp.mixup:
                other, other_labels = self._mosaic(int(rng.integers(len(self))), rng)
                other, other_labels = augment.random_perspective(
                    other, other_labels, rng, border=-size // 2, **warp
                )
                image, labels = augment.mixup((image, labels), (other, other_labels), rng)
        else:
            image, labels, _ = self.load(index)
            image, _, (left, top) = augment.letterbox(image, size)
            labels = labels.copy()
            labels[:, [1, 3]] += left
            labels[:, [2, 4]] += top
            image, labels = augment.random_perspective(image, labels, rng, **warp)
        image = augment.augment_hsv(image, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v, rng)
        if rng.random() < hyp.flipud:
            image, labels = augment.flip(image, labels, horizontal=False)
        if rng.random() < hyp.fliplr:
            image, labels = augment.flip(image, labels, horizontal=True)
        return image, labels

    def _mosaic(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        indices = [index, *(int(i) for i in rng.integers(0, len(self), 3))]
        tiles = [self.load(i)[:2] for i in indices]
        return augment.mosaic(tiles, self.image_size, rng)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, ImageMeta]:
        record = self.split.records[index]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image, labels = self._training_sample(index, rng)
            ratio, padding = 1.0, (0.0, 0.0)
        else:
            image, labels, ratio = self.load(index)
            image, _, padding = augment.letterbox(image, self.image_size)
            labels = labels.copy()
            labels[:, [1, 3]] += padding[0]
            labels[:, [2, 4]] += padding[1]
        size = self.image_size
        targets = np.zeros((len(labels), 6), dtype=np.float32)
        if len(labels):
            targets[:, 1] = labels[:, 0]
            targets[:, 2] = (labels[:, 1] + labels[:, 3]) / 2 / size
            targets[:, 3] = (labels[:, 2] + labels[:, 4]) / 2 / size
            targets[:, 4] = (labels[:, 3] - labels[:, 1]) / size
            targets[:, 5] = (labels[:, 4] - labels[:, 2]) / size
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0
        meta = ImageMeta(record.image_id, (record.height, record.width), ratio, padding)
        return tensor, torch.from_numpy(targets), meta


def collate(
    batch: list[tuple[torch.Tensor, torch.Tensor, ImageMeta]],
) -> tuple[torch.Tensor, torch.Tensor, list[ImageMeta]]:
    """Stack images; concatenate targets with their image's position in column 0."""
    images, targets, metas = zip(*batch, strict=True)
    for position, rows in enumerate(targets):
        rows[:, 0] = position
    return torch.stack(images), torch.cat(targets), list(metas)
