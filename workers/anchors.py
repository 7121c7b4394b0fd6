"""AutoAnchor (spec §8): best possible recall of a set of anchors on a dataset's labels, and
anchors fitted to the labels by k-means then the reference genetic refinement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans

from workers.data.boxes import label_sizes
from workers.data.dataset import DatasetSplit
from workers.failures import BadDataError

BPR_THRESHOLD = 0.98
MIN_LABEL_SIDE = 2.0


@dataclass(frozen=True)
class AnchorFit:
    """``anchors``: per level, w,h pairs in input pixels (smallest area first)."""

    anchors: tuple[tuple[float, ...], ...]
    bpr_before: float
    bpr_after: float
    fitness_before: float
    fitness_after: float
    changed: bool


def _best_ratio(sizes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Per label, over anchors, the worse of the w and h ratios (≤ 1); the best anchor's value."""
    ratio = sizes[:, None] / anchors[None]
    return np.minimum(ratio, 1 / ratio).min(2).max(1)


def best_possible_recall(sizes: np.ndarray, anchors: np.ndarray, anchor_t: float) -> float:
    """Fraction of labels with an anchor within ``anchor_t`` in both width and height ratio."""
    if len(sizes) == 0:
        return 1.0
    return float((_best_ratio(sizes, anchors.reshape(-1, 2)) > 1 / anchor_t).mean())


def anchor_fitness(sizes: np.ndarray, anchors: np.ndarray, anchor_t: float) -> float:
    best = _best_ratio(sizes, anchors.reshape(-1, 2))
    return float((best * (best > 1 / anchor_t)).mean())


def kmeans_anchors(
    sizes: np.ndarray, count: int, anchor_t: float, generations: int = 1000, seed: int = 0
) -> np.ndarray:
    """k-means on whitened label sizes, then the reference GA (mp 0.9, σ 0.1, factors clipped to
    [0.3, 3], anchors ≥ 2 px, accepted only when the fitness strictly improves); sorted by area."""
    rng = np.random.default_rng(seed)
    kept = sizes[(sizes >= MIN_LABEL_SIDE).any(1)]
    if len(kept) < count:
        raise BadDataError(f"anchors: {len(kept)} labels are too few to fit {count} anchors")
    spread = kept.std(0)
    spread[spread == 0] = 1.0
    centroids, _ = kmeans(kept / spread, count, iter=30, seed=int(rng.integers(2**31)))
    if len(centroids) < count:  # k-means merged clusters: fall back to random label sizes
        centroids = kept[rng.choice(len(kept), count, replace=False)] / spread
    anchors = centroids * spread
    best = anchor_fitness(kept, anchors, anchor_t)
    for _ in range(generations):
        factors = np.ones(anchors.shape)
        while (factors == 1).all():
            hit = rng.random(anchors.shape) < 0.9
            factors = (hit * rng.random() * rng.standard_normal(anchors.shape) * 0.1 + 1).clip(0.3, 3.0)
        candidate = (anchors * factors).clip(min=2.0)
        fitness = anchor_fitness(kept, candidate, anchor_t)
        if fitness > best:
            best, anchors = fitness, candidate
    return anchors[np.argsort(anchors.prod(1))]


def evolve_anchors(
    split: DatasetSplit,
    img_size: int,
    anchors: tuple[tuple[float, ...], ...],
    anchor_t: float = 4.0,
    generations: int = 1000,
    seed: int = 0,
    force: bool = False,
) -> AnchorFit:
    """Check ``anchors`` (per level, w,h pairs in pixels) on the labels at ``img_size``; when the
    best possible recall is below 0.98 (or ``force``), fit as many new anchors and keep them only if
    they raise the recall."""
    sizes = label_sizes(split, img_size)
    current = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    bpr = best_possible_recall(sizes, current, anchor_t)
    fitness = anchor_fitness(sizes, current, anchor_t) if len(sizes) else 0.0
    if (bpr >= BPR_THRESHOLD and not force) or len(sizes) == 0:
        return AnchorFit(anchors, bpr, bpr, fitness, fitness, False)
    fitted = kmeans_anchors(sizes, len(current), anchor_t, generations, seed)
    new_bpr = best_possible_recall(sizes, fitted, anchor_t)
    if new_bpr <= bpr and not (force and new_bpr == bpr):
        return AnchorFit(anchors, bpr, bpr, fitness, fitness, False)
    per_level = len(anchors[0])
    rounded = [round(float(v), 1) for v in fitted.reshape(-1)]
    levels = tuple(tuple(rounded[i : i + per_level]) for i in range(0, len(rounded), per_level))
    return AnchorFit(levels, bpr, new_bpr, fitness, anchor_fitness(sizes, fitted, anchor_t), True)
