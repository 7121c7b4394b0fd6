"""Anchor priors: the released sets (spec §1.1) and generated priors for other head layouts."""

from __future__ import annotations

import math

from scaler.blocks import Anchors

_CSP: Anchors = ((12, 16, 19, 36, 40, 28), (36, 75, 76, 55, 72, 146), (142, 110, 192, 243, 459, 401))
_P5: Anchors = (
    (13, 17, 31, 25, 24, 51, 61, 45),
    (48, 102, 119, 96, 97, 189, 217, 184),
    (171, 384, 324, 451, 616, 618, 800, 800),
)
_P6: Anchors = (
    (13, 17, 31, 25, 24, 51, 61, 45),
    (61, 45, 48, 102, 119, 96, 97, 189),
    (97, 189, 217, 184, 171, 384, 324, 451),
    (324, 451, 545, 357, 616, 618, 1024, 1024),
)
_P7: Anchors = (
    (13, 17, 22, 25, 27, 66, 55, 41),
    (57, 88, 112, 69, 69, 177, 136, 138),
    (136, 138, 287, 114, 134, 275, 268, 248),
    (268, 248, 232, 504, 445, 416, 640, 640),
    (812, 393, 477, 808, 1070, 908, 1408, 1408),
)
# darknet yolov4-tiny.cfg: the stride-16 head uses anchors 1,2,3 and the stride-32 head 3,4,5.
_TINY: Anchors = ((23, 27, 37, 58, 81, 82), (81, 82, 135, 169, 344, 319))

# (anchors per level, detection levels) → released anchors
RELEASED_ANCHORS: dict[tuple[int, tuple[int, ...]], Anchors] = {
    (3, (3, 4, 5)): _CSP,
    (4, (3, 4, 5)): _P5,
    (4, (3, 4, 5, 6)): _P6,
    (4, (3, 4, 5, 6, 7)): _P7,
    (3, (4, 5)): _TINY,
}

_ASPECT_RATIOS = (1.0, 0.5, 2.0, 1.0)


def generated_anchors(levels: tuple[int, ...], anchors_per_level: int) -> Anchors:
    """Placeholder priors for a head layout without a released set.

    Level l (stride s = 2^l) gets sizes spread geometrically over [2s, 8s] with aspect ratios
    1, 1/2, 2, 1, …; auto-anchor refits them to a dataset before training.
    """
    result = []
    for level in levels:
        stride = 2**level
        pairs: list[float] = []
        for k in range(anchors_per_level):
            fraction = k / (anchors_per_level - 1) if anchors_per_level > 1 else 0.5
            size = stride * 2 ** (1 + 2 * fraction)
            ratio = _ASPECT_RATIOS[k % len(_ASPECT_RATIOS)]
            pairs += [round(size * math.sqrt(ratio)), round(size / math.sqrt(ratio))]
        result.append(tuple(float(v) for v in pairs))
    return tuple(result)


def default_anchors(levels: tuple[int, ...], anchors_per_level: int) -> Anchors:
    """The released anchors where the layout matches a released network, else generated ones."""
    released = RELEASED_ANCHORS.get((anchors_per_level, levels))
    if released is not None:
        return tuple(tuple(float(v) for v in level) for level in released)
    return generated_anchors(levels, anchors_per_level)
