"""Shape classes of the synthetic dataset, drawn as binary masks."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "star", "ring", "diamond", "hexagon")


def _polygon(
    center: tuple[float, float], radius: float, points: int, angle: float, inner: float = 1.0
) -> list:
    vertices = []
    for k in range(points * (2 if inner != 1.0 else 1)):
        r = radius if (inner == 1.0 or k % 2 == 0) else radius * inner
        theta = angle + k * math.pi / (points if inner != 1.0 else points / 2)
        vertices.append((center[0] + r * math.cos(theta), center[1] + r * math.sin(theta)))
    return vertices


def draw_mask(
    shape: str, size: int, center: tuple[float, float], radius: float, aspect: float, angle: float
) -> np.ndarray:
    """A (size, size) bool mask of one shape; ``radius`` is half its extent, ``aspect`` stretches x."""
    scale = 4  # draw at 4× and downsample: anti-aliased edges, sub-pixel sizes
    reach = math.ceil(radius * max(aspect, 1 / aspect) * 1.5) + 2
    left, top = math.floor(center[0]) - reach, math.floor(center[1]) - reach
    extent = 2 * reach
    canvas = Image.new("L", (extent * scale, extent * scale), 0)
    draw = ImageDraw.Draw(canvas)
    cx, cy = (center[0] - left) * scale, (center[1] - top) * scale
    rx, ry = radius * scale * aspect, radius * scale / aspect
    r = radius * scale
    if shape == "circle":
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    elif shape == "ring":
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
        draw.ellipse((cx - rx * 0.55, cy - ry * 0.55, cx + rx * 0.55, cy + ry * 0.55), fill=0)
    elif shape == "square":
        draw.polygon(_polygon((cx, cy), r * math.sqrt(2), 4, angle + math.pi / 4), fill=255)
    elif shape == "diamond":
        vertices = [(cx, cy - ry), (cx + rx * 0.6, cy), (cx, cy + ry), (cx - rx * 0.6, cy)]
        draw.polygon(vertices, fill=255)
    elif shape == "triangle":
        draw.polygon(_polygon((cx, cy), r, 3, angle - math.pi / 2), fill=255)
    elif shape == "hexagon":
        draw.polygon(_polygon((cx, cy), r, 6, angle), fill=255)
    elif shape == "star":
        draw.polygon(_polygon((cx, cy), r, 5, angle - math.pi / 2, inner=0.45), fill=255)
    elif shape == "cross":
        arm = r * 0.35
        draw.rectangle((cx - r, cy - arm, cx + r, cy + arm), fill=255)
        draw.rectangle((cx - arm, cy - r, cx + arm, cy + r), fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    local = np.asarray(canvas.resize((extent, extent), Image.Resampling.BOX)) >= 128
    mask = np.zeros((size, size), dtype=bool)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + extent, size), min(left + extent, size)
    if y1 > y0 and x1 > x0:
        mask[y0:y1, x0:x1] = local[y0 - top : y1 - top, x0 - left : x1 - left]
    return mask
