"""Independent parameter counts of the released networks, from the closed-form per-block
formulas and layer lists of ../shared/spec/scaled-yolov4-reference.md (§1.2–§1.4).

Nothing here uses the scaler package: it is the yardstick the generated networks are held to.
"""

from __future__ import annotations


def conv(c1: int, c2: int, k: int = 1) -> int:
    return c1 * c2 * k * k + 2 * c2


def bottleneck(c1: int, c2: int, e: float = 0.5) -> int:
    hidden = int(c2 * e)
    return conv(c1, hidden, 1) + conv(hidden, c2, 3)


def csp(c1: int, c2: int, n: int) -> int:
    h = c2 // 2
    return c1 * h + 2 * h + c1 * h + h * h + 2 * h * c2 + 2 * c2 + 4 * h + n * (10 * h * h + 4 * h)


def csp2(c1: int, c2: int, n: int) -> int:
    h = c2
    return c1 * h + 2 * h + h * h + 2 * h * c2 + 2 * c2 + 4 * h + n * (10 * h * h + 4 * h)


def sppcsp(c1: int, c2: int) -> int:
    h = c2
    return (
        conv(c1, h)
        + c1 * h
        + conv(h, h, 3)
        + conv(h, h)
        + conv(4 * h, h)
        + conv(h, h, 3)
        + 4 * h
        + conv(2 * h, c2)
    )


def detect(in_channels: list[int], na: int, nc: int) -> int:
    return sum((c + 1) * na * (nc + 5) for c in in_channels)


def large(stages: int, width: float, stage_repeats: list[int], neck_n: int, nc: int = 80, na: int = 4) -> int:
    """YOLOv4-P5/P6/P7 by the layer lists of spec §1.2/§1.3 (w scales every width)."""

    def w(c: int) -> int:
        return -(-int(c * width) // 8) * 8

    chans = [w(min(64 * 2**i, 1024)) for i in range(stages)]
    total = conv(3, w(32), 3)
    previous = w(32)
    for c, n in zip(chans, stage_repeats, strict=True):
        total += conv(previous, c, 3) + csp(c, c, n)
        previous = c
    neck = {level: w(min(64 * 2 ** (level - 1) // 2, 512)) for level in range(3, stages + 1)}
    out = {level: w(2 * min(64 * 2 ** (level - 1) // 2, 512)) for level in range(3, stages + 1)}
    total += sppcsp(chans[-1], neck[stages])
    upper = neck[stages]
    for level in range(stages - 1, 2, -1):  # top-down
        total += (
            conv(upper, neck[level])
            + conv(chans[level - 1], neck[level])
            + csp2(2 * neck[level], neck[level], neck_n)
        )
        upper = neck[level]
    total += conv(neck[3], out[3], 3)
    lower = neck[3]
    for level in range(4, stages + 1):  # bottom-up
        total += (
            conv(lower, neck[level], 3)
            + csp2(2 * neck[level], neck[level], neck_n)
            + conv(neck[level], out[level], 3)
        )
        lower = neck[level]
    return total + detect([out[level] for level in range(3, stages + 1)], na, nc)


def yolov4_csp(nc: int = 80) -> int:
    """yolov4-csp: plain residual first stage, CSPDarknet53 counts 2-8-8-4, neck CSP2 n=2."""
    chans = [64, 128, 256, 512, 1024]
    total = conv(3, 32, 3) + conv(32, 64, 3) + bottleneck(64, 64)
    previous = 64
    for c, n in zip(chans[1:], [2, 8, 8, 4], strict=True):
        total += conv(previous, c, 3) + csp(c, c, n)
        previous = c
    total += sppcsp(1024, 512)
    total += conv(512, 256) + conv(512, 256) + csp2(512, 256, 2)
    total += conv(256, 128) + conv(256, 128) + csp2(256, 128, 2)
    total += conv(128, 256, 3)
    total += conv(128, 256, 3) + csp2(512, 256, 2) + conv(256, 512, 3)
    total += conv(256, 512, 3) + csp2(1024, 512, 2) + conv(512, 1024, 3)
    return total + detect([256, 512, 1024], 3, nc)


def darknet_tiny(nc: int = 80) -> int:
    """yolov4-tiny.cfg conv layers (filters, size, input channels); two linear head convs with bias."""
    layers = [
        (3, 32, 3),
        (32, 64, 3),
        (64, 64, 3),
        (32, 32, 3),
        (32, 32, 3),
        (64, 64, 1),
        (128, 128, 3),
        (64, 64, 3),
        (64, 64, 3),
        (128, 128, 1),
        (256, 256, 3),
        (128, 128, 3),
        (128, 128, 3),
        (256, 256, 1),
        (512, 512, 3),
        (512, 256, 1),
        (256, 512, 3),
        (256, 128, 1),
        (384, 256, 3),
    ]
    total = sum(conv(c1, c2, k) for c1, c2, k in layers)
    return total + detect([256, 512], 3, nc)


def darknet_csp(c1: int, c2: int, hidden: int, n: int, e: float) -> int:
    parts = conv(c1, hidden) * 2 + conv(hidden, hidden) + conv(2 * hidden, c2)
    return parts + n * bottleneck(hidden, hidden, e)


def five_convs(c_in: int, c: int) -> int:
    return conv(c_in, c) + conv(c, 2 * c, 3) + conv(2 * c, c) + conv(c, 2 * c, 3) + conv(2 * c, c)


def darknet_yolov4(nc: int = 80) -> int:
    """yolov4.cfg: CSPDarknet53 (1-2-8-8-4), SPP block, PAN of five-conv stacks, three heads."""
    total = conv(3, 32, 3) + conv(32, 64, 3) + darknet_csp(64, 64, 64, 1, 0.5)
    previous = 64
    for c, n in zip([128, 256, 512, 1024], [2, 8, 8, 4], strict=True):
        total += conv(previous, c, 3) + darknet_csp(c, c, c // 2, n, 1.0)
        previous = c
    total += conv(1024, 512) + conv(512, 1024, 3) + conv(1024, 512)  # before SPP
    total += conv(2048, 512) + conv(512, 1024, 3) + conv(1024, 512)  # after SPP
    total += conv(512, 256) + conv(512, 256) + five_convs(512, 256)  # top-down P4
    total += conv(256, 128) + conv(256, 128) + five_convs(256, 128)  # top-down P3
    total += conv(128, 256, 3)  # P3 output
    total += conv(128, 256, 3) + five_convs(512, 256) + conv(256, 512, 3)  # bottom-up P4
    total += conv(256, 512, 3) + five_convs(1024, 512) + conv(512, 1024, 3)  # bottom-up P5
    return total + detect([256, 512, 1024], 3, nc)
