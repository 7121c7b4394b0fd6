"""Augmentations driven by the hyp strengths: HSV gains, random perspective, flips, mosaic,
mixup and letterbox. Images are (H, W, 3) uint8 RGB arrays; labels are (n, 5) arrays of
class, x1, y1, x2, y2 in pixels. Every random choice comes from the ``rng`` passed in."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

FILL = 114


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio so the long side is ``size`` and pad to size × size.
    Returns the image, the scale applied and the (left, top) padding."""
    height, width = image.shape[:2]
    ratio = size / max(height, width)
    new_width, new_height = round(width * ratio), round(height * ratio)
    if (new_width, new_height) != (width, height):
        image = np.asarray(Image.fromarray(image).resize((new_width, new_height), Image.Resampling.BILINEAR))
    canvas = np.full((size, size, 3), FILL, dtype=np.uint8)
    x0, y0 = (size - new_width) // 2, (size - new_height) // 2
    canvas[y0 : y0 + new_height, x0 : x0 + new_width] = image
    return canvas, ratio, (float(x0), float(y0))


def augment_hsv(
    image: np.ndarray, hue: float, saturation: float, value: float, rng: np.random.Generator
) -> np.ndarray:
    """Random gains in [1 − g, 1 + g] on hue (circular), saturation and value."""
    gains = rng.uniform(-1, 1, 3) * (hue, saturation, value) + 1
    hsv = np.asarray(Image.fromarray(image).convert("HSV")).astype(np.int32)
    levels = np.arange(256)
    tables = (
        ((levels * gains[0]) % 256).astype(np.uint8),
        np.clip(levels * gains[1], 0, 255).astype(np.uint8),
        np.clip(levels * gains[2], 0, 255).astype(np.uint8),
    )
    channels = [Image.fromarray(table[hsv[..., c]], "L") for c, table in enumerate(tables)]
    return np.asarray(Image.merge("HSV", channels).convert("RGB"))


def box_candidates(
    before: np.ndarray, after: np.ndarray, min_side: float = 2, min_area: float = 0.1
) -> np.ndarray:
    """Boxes that stay meaningful after a transform: > 2 px, > 10 % of their scaled area, aspect < 20."""
    width_before, height_before = before[:, 2] - before[:, 0], before[:, 3] - before[:, 1]
    width, height = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    aspect = np.maximum(width / (height + 1e-16), height / (width + 1e-16))
    return (
        (width > min_side)
        & (height > min_side)
        & (width * height / (width_before * height_before + 1e-16) > min_area)
        & (aspect < 20)
    )


def random_perspective(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    degrees: float = 0.0,
    translate: float = 0.1,
    scale: float = 0.5,
    shear: float = 0.0,
    perspective: float = 0.0,
    border: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation, scale, shear, perspective and translation as one 3×3 warp; output side is the
    input side + 2·border (a negative border crops, as after mosaic)."""
    height, width = image.shape[0] + 2 * border, image.shape[1] + 2 * border
    centre = np.eye(3)
    centre[0, 2], centre[1, 2] = -image.shape[1] / 2, -image.shape[0] / 2
    warp = np.eye(3)
    warp[2, 0], warp[2, 1] = rng.uniform(-perspective, perspective, 2)
    rotation = np.eye(3)
    angle, factor = math.radians(rng.uniform(-degrees, degrees)), rng.uniform(1 - scale, 1 + scale)
    rotation[:2, :2] = factor * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    shearing = np.eye(3)
    shearing[0, 1], shearing[1, 0] = np.tan(np.radians(rng.uniform(-shear, shear, 2)))
    moving = np.eye(3)
    moving[0, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * width
    moving[1, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * height
    matrix = moving @ shearing @ rotation @ warp @ centre
    inverse = np.linalg.inv(matrix)
    inverse /= inverse[2, 2]
    warped = Image.fromarray(image).transform(
        (width, height),
        Image.Transform.PERSPECTIVE,
        tuple(inverse.flatten()[:8]),
        Image.Resampling.BILINEAR,
        fillcolor=(FILL, FILL, FILL),
    )
    if len(labels):
        corners = labels[:, [1, 2, 3, 4, 1, 4, 3, 2]].reshape(-1, 2)  # x1y1, x2y2, x1y2, x2y1
        points = np.concatenate((corners, np.ones((len(corners), 1))), axis=1) @ matrix.T
        points = points[:, :2] / points[:, 2:3]
        points = points.reshape(-1, 8)
        xs, ys = points[:, [0, 2, 4, 6]], points[:, [1, 3, 5, 7]]
        boxes = np.stack((xs.min(1), ys.min(1), xs.max(1), ys.max(1)), axis=1)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        keep = box_candidates(labels[:, 1:5] * factor, boxes)
        labels = np.concatenate((labels[keep, :1], boxes[keep]), axis=1)
    return np.asarray(warped), labels


def flip(image: np.ndarray, labels: np.ndarray, horizontal: bool) -> tuple[np.ndarray, np.ndarray]:
    labels = labels.copy()
    if horizontal:
        width = image.shape[1]
        labels[:, [1, 3]] = width - labels[:, [3, 1]]
        return np.ascontiguousarray(image[:, ::-1]), labels
    height = image.shape[0]
    labels[:, [2, 4]] = height - labels[:, [4, 2]]
    return np.ascontiguousarray(image[::-1]), labels


def mosaic(
    tiles: list[tuple[np.ndarray, np.ndarray]], size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Four (image, labels) tiles around a random centre on a 2·size canvas (cropped back to size
    by the random perspective that follows)."""
    centre_x, centre_y = (int(rng.uniform(size / 2, 3 * size / 2)) for _ in range(2))
    canvas = np.full((2 * size, 2 * size, 3), FILL, dtype=np.uint8)
    merged = []
    for position, (image, labels) in enumerate(tiles):
        height, width = image.shape[:2]
        if position == 0:  # top left
            big = (max(centre_x - width, 0), max(centre_y - height, 0), centre_x, centre_y)
            small = (width - (big[2] - big[0]), height - (big[3] - big[1]), width, height)
        elif position == 1:  # top right
            big = (centre_x, max(centre_y - height, 0), min(centre_x + width, 2 * size), centre_y)
            small = (0, height - (big[3] - big[1]), min(width, big[2] - big[0]), height)
        elif position == 2:  # bottom left
            big = (max(centre_x - width, 0), centre_y, centre_x, min(2 * size, centre_y + height))
            small = (width - (big[2] - big[0]), 0, width, min(big[3] - big[1], height))
        else:  # bottom right
            big = (centre_x, centre_y, min(centre_x + width, 2 * size), min(2 * size, centre_y + height))
            small = (0, 0, min(width, big[2] - big[0]), min(big[3] - big[1], height))
        canvas[big[1] : big[3], big[0] : big[2]] = image[small[1] : small[3], small[0] : small[2]]
        shifted = labels.copy()
        shifted[:, [1, 3]] += big[0] - small[0]
        shifted[:, [2, 4]] += big[1] - small[1]
        merged.append(shifted)
    labels = np.concatenate(merged, axis=0) if merged else np.zeros((0, 5))
    labels[:, 1:5] = labels[:, 1:5].clip(0, 2 * size)
    return canvas, labels


def mixup(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Blend two same-size images with r ~ Beta(8, 8); both label sets are kept."""
    ratio = rng.beta(8.0, 8.0)
    image = (first[0].astype(np.float32) * ratio + second[0].astype(np.float32) * (1 - ratio)).astype(
        np.uint8
    )
    return image, np.concatenate((first[1], second[1]), axis=0)
